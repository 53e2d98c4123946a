// Event Hash IDs from epcis2.js (npm), for tests/unit/test_epcis_hash_crosscheck.py.
// stdin: JSON [{"event": {...}, "context": [...]}, ...]; stdout: JSON list, a hash ID or "error: <message>" each.
const { eventToHashedId } = require('epcis2.js');

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map(({ event, context }) => {
    try {
      return eventToHashedId(event, context);
    } catch (err) {
      return `error: ${err.message}`;
    }
  });
  process.stdout.write(JSON.stringify(out));
});
