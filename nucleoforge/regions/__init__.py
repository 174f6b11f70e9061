"""GeneBERT data building: JASPAR motif scanning and region x motif datasets (Parquet shards)."""
