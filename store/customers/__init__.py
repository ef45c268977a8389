"""The customers collection: the write protocol that keeps channel-identifier values unique
without a multi-document transaction, its undo, and the reads.

One writer (a batch of an import, a bulk request, a revert) writes in this order:

1. Read claims (`reading`): the claims of the rows' identifier values (`claims`), waiting
   while a live writer holds one (`writers`: writer leases, wait-die), and the customers
   they name (an import's `ignore` batch takes the claims planning read of writers that had
   finished by then for what they say, and reads no customer for them). The first round
   skips this and assumes every value is free.
2. Resolve: `domain.resolution` decides each row's outcome against those customers.
3. Take claims (`writing`, planned by `claims.plan_writes`): insert or change the claims of
   the values that change hands, conditionally on what was read.
4. Pre-images (`preimages`): an import keeps each customer it changes as it was, for its
   revert and the customer's history.
5. Write customers (`writing`): replace the changed ones by `_id` and `rev`, insert the new
   ones with ids made from the writer and the row (`ids`).
6. Settle claims (`writing`): the values that moved now name their new holder.

`commit` runs the loop for one `request.Commit`: read, resolve, write, and again when
another writer got in first (store.retry decides how many rounds). `restore` writes a revert
under the same rules; `history` reads a customer's history from the pre-images; `lookup`
reads customers by id or filter."""
