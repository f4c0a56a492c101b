// Funding from a browser wallet: <div data-wallet data-plan=… data-quote=… data-confirm=… data-done=…> gets a
// button that connects the injected EIP-1193 wallet (window.ethereum), switches it to the instance's chain, and
// sends the transactions the appliance prepared (GET data-plan: an ERC-20 approve when needed, then the deposit);
// the deposit's hash is then confirmed (POST data-confirm) and the page reloads at data-done. Without a wallet the
// panel says so; the transaction-hash form of the page still works.
(() => {
  if (window.__devsponsorWallet) return;
  window.__devsponsorWallet = true;
  var STEPS = ["connect", "chain", "approve", "deposit", "confirmed"];

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }
  // The appliance's JSON API with this page's session; its error envelope becomes an Error with code and message.
  function api(method, url, body) {
    var headers = { accept: "application/json", "x-csrf-token": csrf() };
    if (body !== undefined) headers["content-type"] = "application/json";
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then((r) =>
      r.json().then(
        (j) => {
          if (r.ok) return j;
          var e = new Error(j?.error?.message || "The appliance answered " + r.status + ".");
          e.appCode = j?.error?.code;
          e.status = r.status;
          throw e;
        },
        () => {
          throw new Error("The appliance answered " + r.status + ".");
        },
      ),
    );
  }
  function sleep(ms) {
    return new Promise((ok) => setTimeout(ok, ms));
  }
  // A wallet's error in plain words (EIP-1193 and EIP-1474 codes; nodes word "insufficient funds" their own way).
  function plain(err) {
    var code = err && (err.code ?? err.data?.code);
    var msg = String(err?.message || err);
    if (code === 4001) return "You rejected the request in your wallet. Nothing was sent.";
    if (code === 4901) return "The wallet is on another chain: switch it to this instance's chain and try again.";
    if (code === 4100) return "The wallet has not allowed this site to use the account: connect it again.";
    if (code === -32002) return "Your wallet already has a request waiting: open the wallet and answer it.";
    if (/insufficient funds/i.test(msg))
      return "The wallet does not hold enough to pay for this transaction (amount plus gas).";
    if (err?.reverted) return msg;
    if (err?.appCode) return msg;
    return "The wallet answered: " + msg;
  }

  function Panel(el) {
    this.el = el;
    this.status = el.querySelector("[data-wallet-status]");
    this.button = el.querySelector("[data-wallet-connect]");
    this.prove = el.querySelector("[data-wallet-prove]");
    this.eth = window.ethereum;
    this.busy = false;
  }
  Panel.prototype.say = function (text, kind) {
    this.status.textContent = text;
    this.status.className = kind === "error" ? "flash error" : kind === "ok" ? "flash success" : "muted";
  };
  Panel.prototype.step = function (name, state) {
    var i = STEPS.indexOf(name);
    this.el.querySelectorAll("[data-step]").forEach((li) => {
      var j = STEPS.indexOf(li.getAttribute("data-step"));
      if (j < i && li.getAttribute("data-state") !== "skipped") li.setAttribute("data-state", "done");
      else if (j === i) li.setAttribute("data-state", state || "active");
    });
  };
  Panel.prototype.request = function (method, params) {
    return this.eth.request({ method: method, params: params || [] });
  };
  Panel.prototype.plan = function (account) {
    return api("GET", this.el.getAttribute("data-plan") + "?account=" + encodeURIComponent(account));
  };
  Panel.prototype.switchChain = function (chain) {
    return this.request("eth_chainId").then((current) => {
      if (current && parseInt(current, 16) === parseInt(chain.chainId, 16)) return;
      return this.request("wallet_switchEthereumChain", [{ chainId: chain.chainId }])
        .catch((err) => {
          // 4902: the wallet does not know the chain yet: add it, which also switches to it
          var code = err && (err.code ?? err.data?.originalError?.code);
          if (code !== 4902) throw err;
          return this.request("wallet_addEthereumChain", [chain]);
        })
        .then(() => this.request("eth_chainId"))
        .then((now) => {
          if (parseInt(now, 16) !== parseInt(chain.chainId, 16))
            throw new Error(
              "The wallet is still on chain " +
                parseInt(now, 16) +
                ": switch it to chain " +
                parseInt(chain.chainId, 16) +
                ".",
            );
        });
    });
  };
  // Polls the wallet's node for the receipt; a reverted transaction is an error with its hash.
  Panel.prototype.receipt = function (hash, what) {
    var tries = 0;
    var poll = () =>
      this.request("eth_getTransactionReceipt", [hash]).then((r) => {
        if (r?.blockNumber) {
          if (r.status === "0x0") {
            const e = new Error(
              "The " + what + " transaction reverted on chain (" + hash + "). Nothing was deposited.",
            );
            e.reverted = true;
            throw e;
          }
          return r;
        }
        if (++tries > 600) throw new Error("The " + what + " transaction " + hash + " was not mined in 10 minutes.");
        return sleep(1000).then(poll);
      });
    return poll();
  };
  // Confirms the deposit with the appliance, waiting while it waits for confirmations.
  Panel.prototype.confirm = function (hash) {
    var tries = 0;
    var go = () =>
      api("POST", this.el.getAttribute("data-confirm"), { depositTxHash: hash }).catch((err) => {
        var waiting = err.appCode === "DEPOSIT_NOT_CONFIRMED" && /not mined|confirmations/i.test(err.message);
        if (!waiting || ++tries > 120) throw err;
        this.say("Deposit sent (" + hash + "): " + err.message);
        return sleep(2000).then(go);
      });
    return go();
  };
  Panel.prototype.send = function (account, tx) {
    return this.request("eth_sendTransaction", [{ from: account, to: tx.to, data: tx.data, value: tx.value }]);
  };
  // Proves the connected wallet with Sign-In with Ethereum on the instance's chain, then quotes for it.
  Panel.prototype.proveAndQuote = function (account, plan) {
    var chainId = parseInt(plan.chain.chainId, 16);
    var step = plan.accountProved
      ? Promise.resolve()
      : api("POST", "/api/me/wallets/challenge", { address: account, chainId: chainId }).then((c) => {
          this.say("Sign the message in your wallet to prove " + account + ".");
          return this.request("personal_sign", [c.message, account]).then((signature) =>
            api("POST", "/api/me/wallets", { message: c.message, signature: signature }),
          );
        });
    return step.then(() => api("POST", this.el.getAttribute("data-quote"), { wallet: account })).then(() => this.run());
  };
  Panel.prototype.run = function () {
    if (this.busy) return;
    this.busy = true;
    this.button.disabled = true;
    this.prove.hidden = true;
    // the page follows its project live: marking it as being typed in keeps it from swapping this panel away
    this.el.dispatchEvent(new Event("input", { bubbles: true }));
    var account = null;
    var plan = null;
    var done = () => {
      this.busy = false;
      this.button.disabled = false;
    };
    this.step("connect");
    this.say("Connecting to your wallet…");
    return this.request("eth_requestAccounts")
      .then((accounts) => {
        account = accounts?.[0];
        if (!account) throw new Error("The wallet gave no account.");
        return this.plan(account);
      })
      .then((p) => {
        plan = p;
        if (!plan.accountMatches) {
          let msg =
            "Connect " +
            plan.sponsorWallet +
            ": the escrow takes this project's deposits only from that wallet (connected: " +
            account +
            ").";
          if (!plan.funded) {
            this.prove.textContent = (plan.accountProved ? "Deposit from " : "Prove and deposit from ") + account;
            this.prove.hidden = false;
            this.prove.onclick = () => {
              this.prove.hidden = true;
              this.busy = false;
              this.proveAndQuote(account, plan).catch((err) => {
                this.step("connect", "error");
                this.say(plain(err), "error");
                done();
              });
            };
            msg += " Or use the connected wallet instead: that needs a new quote for it.";
          }
          this.step("connect", "error");
          this.say(msg, "error");
          return "stop";
        }
        if (plan.shortfall) {
          this.step("connect", "error");
          this.say("Not enough funds: " + plan.shortfall, "error");
          return "stop";
        }
        this.step("chain");
        this.say("Switching the wallet to chain " + parseInt(plan.chain.chainId, 16) + "…");
        return this.switchChain(plan.chain);
      })
      .then((stop) => {
        if (stop === "stop") return stop;
        var approve = plan.transactions.find((t) => t.step === "approve");
        var deposit = plan.transactions.find((t) => t.step === "deposit");
        var first = Promise.resolve();
        if (approve) {
          this.step("approve");
          this.say(approve.description + ": confirm it in your wallet.");
          first = this.send(account, approve).then((h) => {
            this.say("Approval sent (" + h + "), waiting for it to be mined…");
            return this.receipt(h, "approval");
          });
        } else this.el.querySelector('[data-step="approve"]')?.setAttribute("data-state", "skipped");
        return first
          .then(() => {
            this.step("deposit");
            this.say(deposit.description + ": confirm it in your wallet.");
            return this.send(account, deposit);
          })
          .then((hash) => {
            this.el.setAttribute("data-deposit-tx", hash);
            this.say("Deposit sent (" + hash + "), waiting for it to be mined…");
            return this.receipt(hash, "deposit").then(() => hash);
          })
          .then((hash) => this.confirm(hash))
          .then(() => {
            this.step("confirmed", "done");
            this.say("Deposit confirmed.", "ok");
            window.location.assign(this.el.getAttribute("data-done"));
            return "stop";
          });
      })
      .then(
        () => done(),
        (err) => {
          var active = this.el.querySelector('[data-state="active"]');
          if (active) active.setAttribute("data-state", "error");
          this.say(plain(err), "error");
          done();
        },
      );
  };

  function attach(el) {
    if (el.__wallet) return;
    var panel = new Panel(el);
    el.__wallet = panel;
    if (!panel.eth || typeof panel.eth.request !== "function") {
      panel.say(
        "No browser wallet was found: install one (an EIP-1193 wallet), or send the deposit yourself and confirm its hash below.",
      );
      return;
    }
    panel.say("Connect your wallet: it will be asked to switch chain, approve the token if needed, and deposit.");
    panel.button.hidden = false;
    panel.button.addEventListener("click", () => panel.run());
  }
  function scan(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("[data-wallet]").forEach(attach);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => scan(document));
  else scan(document);
  document.addEventListener("htmx:load", (e) => scan(e.target));
})();
