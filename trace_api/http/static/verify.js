// Progressive enhancement of the scan page (it works fully without this; every text comes translated from the
// page's data- attributes).
(function () {
  "use strict";

  // A signature travels in the URL fragment (#sig=0x…), which browsers never send to the server; post it in a
  // request body to have it checked.
  var sig = /(?:^#|&)sig=(0x[0-9a-fA-F]{130})/.exec(location.hash);
  var el = document.getElementById("signature");
  if (sig && el) {
    fetch("/verify/signature", {method: "POST", headers: {"Content-Type": "application/json"},
          body: JSON.stringify({uri: el.dataset.uri, signature: sig[1]})})
      .then(function (r) { return r.json().then(function (b) { return [r.ok, b]; }); })
      .then(function (res) {
        var ok = res[0] && res[1].producer;
        el.textContent = ok ? el.dataset.ok + " (" + res[1].signer + ")" : el.dataset.bad;
        if (!ok) {
          var v = document.getElementById("verdict");
          v.className = "banner counterfeit";
          v.textContent = "";
          var h = document.createElement("h1"); h.textContent = "⚠ " + el.dataset.badTitle;
          var p = document.createElement("p"); p.textContent = el.dataset.badDetail;
          v.appendChild(h); v.appendChild(p);
        }
      });
  }

  // A public document: download it and compare its SHA-256 (Web Crypto) with the hash cited by the event, which
  // is under the event's hash on chain. The server's own check is shown beside; this one trusts no server.
  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function check(button) {
    var out = button.parentNode.querySelector(".doc-check");
    out.className = "doc-check meta";
    out.textContent = "…";
    if (!window.crypto || !crypto.subtle) { out.textContent = button.dataset.failed; return; }
    fetch(button.dataset.href, {cache: "no-store"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.arrayBuffer(); })
      .then(function (body) { return crypto.subtle.digest("SHA-256", body); })
      .then(function (digest) {
        var ok = "0x" + hex(digest) === button.dataset.sha256.toLowerCase();
        out.textContent = ok ? button.dataset.ok : button.dataset.bad;
        out.className = "doc-check " + (ok ? "ok" : "bad");
        out.dataset.result = ok ? "match" : "mismatch";
      })
      .catch(function () { out.textContent = button.dataset.failed; out.dataset.result = "error"; });
  }

  // The language switch keeps the fragment (a signature) that the server never saw.
  if (location.hash) {
    Array.prototype.forEach.call(document.querySelectorAll(".langs a"), function (a) { a.href += location.hash; });
  }

  Array.prototype.forEach.call(document.querySelectorAll("button.check-doc"), function (button) {
    button.addEventListener("click", function () { check(button); });
  });
})();
