pragma circom 2.1.0;

// Proves that a test report whose Merkle root the harness signed satisfies a task's rule, and binds the
// proof to the task, the payee and the amount of one payment.
//
// What it proves (and what it does not): the prover knows the leaves behind `root`; every used leaf is a
// passed test (a report that contains a failure has no witness for its root); at least `minPassing` tests
// passed. That the report is genuine is the harness's word: its EIP-712 signature over the same root is
// checked by the escrow contract. The proof adds that the signed report meets the rule, without publishing
// the test list, and ties it to this task, payee and amount.
//
// Tree layout (must match src/zk/merkle.ts): a fixed-depth Merkle tree of arity 8 over 64 leaf slots. A leaf
// is the pair (testIdHash, passed); an unused slot is (0, 0). A node over 8 leaves is Poseidon of their 16
// values, the root is Poseidon of the 8 nodes. Wide Poseidon costs about 38 constraints per hashed value
// where a binary tree of Poseidon(2) costs about 120, which keeps the circuit under 2^13 constraints.

include "poseidon.circom";
include "comparators.circom";
include "bitify.circom";

template ReportRule(arity) {
    var n = arity * arity;

    // Public inputs, in the order the verifier expects them.
    signal input root;
    signal input taskId;
    signal input payee;
    signal input amount;
    signal input minPassing;

    // Private inputs: one slot per leaf.
    signal input testIds[n];
    signal input passed[n];
    signal input used[n];

    // What a slot contributes to the tree: (testIdHash, passed) when used, (0, 0) when not. A failed test in
    // the report, (testIdHash, 0), can be neither: an unused slot hashes as (0, 0) and a used one must pass.
    signal slotId[n];
    signal slotPassed[n];
    var count = 0;
    for (var i = 0; i < n; i++) {
        used[i] * (used[i] - 1) === 0;
        passed[i] * (passed[i] - 1) === 0;
        // A counted test must have passed.
        used[i] * (1 - passed[i]) === 0;
        slotId[i] <== used[i] * testIds[i];
        slotPassed[i] <== used[i] * passed[i];
        count += used[i];
    }

    // minPassing is a small positive number: range-check it so the comparison below is sound.
    component minBits = Num2Bits(8);
    minBits.in <== minPassing;
    component minIsZero = IsZero();
    minIsZero.in <== minPassing;
    minIsZero.out === 0;
    component enough = GreaterEqThan(8);
    enough.in[0] <== count;
    enough.in[1] <== minPassing;
    enough.out === 1;

    // Nodes over `arity` leaves each, then the root over the nodes.
    component nodes[arity];
    component top = Poseidon(arity);
    for (var g = 0; g < arity; g++) {
        nodes[g] = Poseidon(2 * arity);
        for (var j = 0; j < arity; j++) {
            nodes[g].inputs[2 * j] <== slotId[g * arity + j];
            nodes[g].inputs[2 * j + 1] <== slotPassed[g * arity + j];
        }
        top.inputs[g] <== nodes[g].out;
    }
    root === top.out;

    // Public inputs that take part in no other constraint: square them so the proof stays bound to them
    // whatever the optimizer does.
    signal taskIdSquare <== taskId * taskId;
    signal payeeSquare <== payee * payee;
    signal amountSquare <== amount * amount;
}

component main {public [root, taskId, payee, amount, minPassing]} = ReportRule(8);
