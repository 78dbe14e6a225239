"""The local stack for the demo, tests and benchmarks: a real Kafka broker and stand-ins."""
