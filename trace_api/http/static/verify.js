// Progressive enhancement: a signature travels in the URL fragment (#sig=0x…), which browsers never send
// to the server; post it in a request body to have it checked. The page works fully without this.
(function () {
  var m = /(?:^#|&)sig=(0x[0-9a-fA-F]{130})/.exec(location.hash);
  if (!m) return;
  var el = document.getElementById("signature");
  fetch("/verify/signature", {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({uri: el.dataset.uri, signature: m[1]})})
    .then(function (r) { return r.json().then(function (b) { return [r.ok, b]; }); })
    .then(function (res) {
      var ok = res[0] && res[1].producer;
      el.textContent = ok ? "Signature: ✓ signed by producer " + res[1].signer
                          : "Signature: ✗ could not verify — possible counterfeit";
      if (!ok) { var v = document.getElementById("verdict"); v.className = "banner counterfeit";
                 v.innerHTML = "<h1>⚠ Could not verify — possible counterfeit</h1><p>The code's signature is not a producer's.</p>"; }
    });
})();
