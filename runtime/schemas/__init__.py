"""Schema Registry converters: Avro, Protobuf and JSON Schema in Confluent's wire format.

- ``avro_values``: decoded Avro values as Kafka Connect's AvroConverter gives them
  (the logical types it doesn't know as their underlying type);
- ``client``: a converter's ``schema.registry.*`` keys as confluent-kafka's
  ``SchemaRegistryClient`` config (basic auth, TLS);
- ``connect``: Avro, JSON Schema and Protobuf schemas as Kafka Connect's schema
  structure, which the SQL sink turns into typed columns;
- ``converters``: the converters, under Kafka Connect's class names.

confluent-kafka's serdes come with the ``schemas`` extra (``pip install offramp[schemas]``).
"""
