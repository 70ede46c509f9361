// The command line of the producer scripts: `--name value` pairs.
'use strict';

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

module.exports = { arg };
