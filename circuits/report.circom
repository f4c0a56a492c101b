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
// Tree layout (must match src/zk/merkle.ts): leaf = Poseidon(testIdHash, passed), an unused slot is 0,
// parent = Poseidon(left, right), depth 6 (64 leaves).

include "poseidon.circom";
include "comparators.circom";
include "bitify.circom";

template ReportRule(depth) {
    var n = 1 << depth;

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

    component leafHash[n];
    signal leaves[n];
    var count = 0;
    for (var i = 0; i < n; i++) {
        used[i] * (used[i] - 1) === 0;
        passed[i] * (passed[i] - 1) === 0;
        // A counted test must have passed.
        used[i] * (1 - passed[i]) === 0;
        leafHash[i] = Poseidon(2);
        leafHash[i].inputs[0] <== testIds[i];
        leafHash[i].inputs[1] <== passed[i];
        leaves[i] <== used[i] * leafHash[i].out;
        count += used[i];
    }

    // minPassing is a small positive number: range-check it so the comparison below is sound.
    component minBits = Num2Bits(depth + 1);
    minBits.in <== minPassing;
    component minIsZero = IsZero();
    minIsZero.in <== minPassing;
    minIsZero.out === 0;
    component enough = GreaterEqThan(depth + 1);
    enough.in[0] <== count;
    enough.in[1] <== minPassing;
    enough.out === 1;

    // Fold the leaves up to the root.
    component nodes[n - 1];
    signal level[2 * n - 1];
    for (var i = 0; i < n; i++) level[i] <== leaves[i];
    for (var i = 0; i < n - 1; i++) {
        nodes[i] = Poseidon(2);
        nodes[i].inputs[0] <== level[2 * i];
        nodes[i].inputs[1] <== level[2 * i + 1];
        level[n + i] <== nodes[i].out;
    }
    root === level[2 * n - 2];

    // Public inputs that take part in no other constraint: square them so the proof stays bound to them
    // whatever the optimizer does.
    signal taskIdSquare <== taskId * taskId;
    signal payeeSquare <== payee * payee;
    signal amountSquare <== amount * amount;
}

component main {public [root, taskId, payee, amount, minPassing]} = ReportRule(6);
