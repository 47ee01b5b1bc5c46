"""ISO 20022 messages: camt.052/053/054 statements and reports."""
