"""`enclave eval`: measure retrieval and answers on a dataset of questions with known passages.

`datasets` reads the formats (Enclave JSONL, ClapNQ, SQuAD 2.0; the JSONL format is described
there), `metrics` holds the pure metric functions, `runner` indexes a dataset into its own
collection and runs the questions through the real retriever and answer service, and
`report` turns a run into tables, the JSON summary and a comparison with a baseline run.
"""
