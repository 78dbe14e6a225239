"""``sql``: the billing database sink — records become rows, exactly once.

Design after the Confluent/Debezium JDBC sinks (same keys: ``connection.url``,
``insert.mode``, ``pk.mode``, ``auto.create``…), built on SQLAlchemy, with:

- ``config``: the config model and ``fields.mapping`` parsing;
- ``rows``: records → columns and rows per table, column by column;
- ``schema``: reflection, ``auto.create`` and ``auto.evolve``, kinds → SQL types;
- ``statements`` / ``bulk``: DML per dialect, executemany, PostgreSQL's COPY path;
- ``offsets``: the exactly-once offsets table;
- ``errors``: transient vs bad record vs fatal, per database;
- ``connection``: engines, connecting, server versions;
- ``writer`` / ``connector``: the plug-in itself.
"""

from offramp.connectors.sql.config import SqlSinkConfig
from offramp.connectors.sql.connector import SqlSinkConnector

__all__ = ["SqlSinkConfig", "SqlSinkConnector"]
