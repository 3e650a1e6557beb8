"""The award standards as data: models, loading and fingerprint, diff, the band grid."""
