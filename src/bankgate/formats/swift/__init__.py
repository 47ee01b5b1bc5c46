"""SWIFT MT940 (customer statement) and MT942 (interim report)."""
