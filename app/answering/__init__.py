"""The answer pipeline: from a question to a cited answer, one module per stage.

In pipeline order:

1. `filters`: the search filters a client sends, checked and applied with the caller's groups;
2. `conversation`, `condense`: earlier turns, and a follow-up rewritten to stand alone;
3. `retrieval`, `rerank`: the query embedded and searched in the store (dense, sparse or
   hybrid), then optionally re-ordered by a cross-encoder;
4. `context`: passages merged, widened, focused and packed into the model's window;
5. `answerability`: abstain before generating when no passage comes near the question;
6. `prompting`: the numbered-passage prompt and reading its citations back;
7. `generation`: the model (llama.cpp on its own thread, behind an admission queue);
8. `sentences`, `citations`: every answer sentence checked against the passages and cited;
9. `answers`: AnswerService, which runs the stages for search and ask (API and pages);
10. `evaluation`: `enclave eval`, the same pipeline measured on a dataset.

HTTP (app/api), pages (app/web) and access control (app/security) use it; it knows
nothing about them.
"""
