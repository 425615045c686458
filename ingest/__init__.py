"""The ingest Lambda: DynamoDB Streams -> render -> embed -> index, through kotae.indexer."""
