pragma circom 2.1.0;

// Proves that a test report the harness signed meets a task's rule, and binds the proof to the task, the payee
// and the amount of one payment.
//
// The harness signs root = Poseidon(namedRoot, allRoot, testCount, passedCount, failedCount, newFailures)
// (src/zk/merkle.ts reportCommitment). The proof shows, for that root:
//   - every named acceptance test of the rule is in a slot that passed (a named test missing from the report is a
//     slot with passed = 0, so it cannot be proved);
//   - the named ids, in the rule's order, and minPassing hash to the public ruleHash;
//   - newFailures == 0 (no test fails that did not fail at the base commit);
//   - passedCount >= minPassing (both range-checked to 32 bits, minPassing >= 1).
// allRoot, the SHA-256 tree over every test of the report, is a private input the circuit does not open: the
// other tests are committed in it and can be checked off chain against the stored report.
//
// Named slots (must match merkle.ts): ids = the 32 named id hashes, unused = 0;
//   low = Poseidon(16)(ids 0..15), high = Poseidon(16)(ids 16..31)
//   ruleHash  = Poseidon(3)(low, high, minPassing)
//   namedRoot = Poseidon(2)(Poseidon(2)(low, high), passedBits), passedBits = sum of passed_i * 2^i

include "poseidon.circom";
include "comparators.circom";
include "bitify.circom";

template ReportRule(slots) {
    // Public inputs, in the order the verifier expects them.
    signal input root;
    signal input taskId;
    signal input payee;
    signal input amount;
    signal input ruleHash;

    // Private inputs.
    signal input namedIds[slots];
    signal input namedPassed[slots];
    signal input minPassing;
    signal input allRoot;
    signal input testCount;
    signal input passedCount;
    signal input failedCount;
    signal input newFailures;

    // A slot is used when its id is not 0. A used slot must have passed; an unused one is (0, 0).
    component isEmpty[slots];
    var bits = 0;
    for (var i = 0; i < slots; i++) {
        namedPassed[i] * (namedPassed[i] - 1) === 0;
        isEmpty[i] = IsZero();
        isEmpty[i].in <== namedIds[i];
        // used = 1 - isEmpty: a used slot must have passed, an unused one must not claim a pass
        (1 - isEmpty[i].out) * (1 - namedPassed[i]) === 0;
        isEmpty[i].out * namedPassed[i] === 0;
        bits += namedPassed[i] * (1 << i);
    }

    // The rule: the named ids in order, and minPassing.
    component low = Poseidon(16);
    component high = Poseidon(16);
    for (var i = 0; i < 16; i++) {
        low.inputs[i] <== namedIds[i];
        high.inputs[i] <== namedIds[16 + i];
    }
    component rule = Poseidon(3);
    rule.inputs[0] <== low.out;
    rule.inputs[1] <== high.out;
    rule.inputs[2] <== minPassing;
    ruleHash === rule.out;

    // The named slots' commitment and the signed root.
    component ids = Poseidon(2);
    ids.inputs[0] <== low.out;
    ids.inputs[1] <== high.out;
    component named = Poseidon(2);
    named.inputs[0] <== ids.out;
    named.inputs[1] <== bits;
    component top = Poseidon(6);
    top.inputs[0] <== named.out;
    top.inputs[1] <== allRoot;
    top.inputs[2] <== testCount;
    top.inputs[3] <== passedCount;
    top.inputs[4] <== failedCount;
    top.inputs[5] <== newFailures;
    root === top.out;

    // Nothing that passed at the base commit fails now.
    newFailures === 0;

    // Enough tests passed: both sides range-checked so the comparison is sound; minPassing >= 1.
    component minBits = Num2Bits(32);
    minBits.in <== minPassing;
    component passedBits = Num2Bits(32);
    passedBits.in <== passedCount;
    component minIsZero = IsZero();
    minIsZero.in <== minPassing;
    minIsZero.out === 0;
    component enough = GreaterEqThan(32);
    enough.in[0] <== passedCount;
    enough.in[1] <== minPassing;
    enough.out === 1;

    // Public inputs that take part in no other constraint: square them so the proof stays bound to them
    // whatever the optimizer does.
    signal taskIdSquare <== taskId * taskId;
    signal payeeSquare <== payee * payee;
    signal amountSquare <== amount * amount;
}

component main {public [root, taskId, payee, amount, ruleHash]} = ReportRule(32);
