// Process plumbing shared by the test peers: option parsing, the ready line,
// logging to stderr and shutdown on SIGTERM.
//
// Stdout carries exactly one line, the ready line, because the harness reads
// it to learn the peer's URL. Libraries that print notices with console.info
// or console.log (oidc-provider does) are redirected to stderr when this
// module is evaluated, so import it before any such library.
import { parseArgs } from 'node:util';

const writeToStderr = (...args) => console.error(...args);
console.log = writeToStderr;
console.info = writeToStderr;
console.debug = writeToStderr;

export const LOOPBACK_HOST = '127.0.0.1';

// Writes one JSON log line to stderr.
export function log(peer, message, fields = {}) {
  const entry = { time: new Date().toISOString(), peer, message, ...fields };
  process.stderr.write(`${JSON.stringify(entry)}\n`);
}

// Parses command-line flags, falling back to environment variables.
// `options` maps a flag name to { type, env, default, multiple }.
// A flag given on the command line wins over its environment variable.
export function readOptions(options, usage) {
  const parseOptions = { help: { type: 'boolean', short: 'h' } };
  for (const [name, option] of Object.entries(options)) {
    parseOptions[name] = { type: 'string', multiple: !!option.multiple };
  }

  let values;
  try {
    ({ values } = parseArgs({ options: parseOptions, strict: true }));
  } catch (error) {
    process.stderr.write(`${error.message}\n\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }

  const result = {};
  for (const [name, option] of Object.entries(options)) {
    let value = values[name];
    if (value === undefined && option.env && process.env[option.env]) {
      const text = process.env[option.env];
      value = option.multiple ? text.split(',').filter(Boolean) : text;
    }
    result[name] = value ?? option.default;
  }
  return result;
}

// Parses a TCP port option value. Port 0 lets the OS pick a free port.
export function parsePort(text) {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`invalid --port value: ${JSON.stringify(text)}; ` +
      'use an integer from 0 to 65535 (0 picks a free port)\n');
    process.exit(2);
  }
  return port;
}

// Starts `server` on 127.0.0.1:`port` and returns its base URL.
export function listenOnLoopback(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, LOOPBACK_HOST, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(`http://${LOOPBACK_HOST}:${address.port}`);
    });
  });
}

// Prints the single ready line on stdout.
export function announceReady(fields) {
  process.stdout.write(`${JSON.stringify({ ready: true, ...fields })}\n`);
}

// Closes `server` and exits 0 on SIGTERM or SIGINT. Open keep-alive and
// streaming connections are closed too, so shutdown does not wait for them.
export function exitOnSignal(peer, server) {
  const shutDown = (signal) => {
    log(peer, 'stopping', { signal });
    server.close(() => process.exit(0));
    server.closeAllConnections();
    // An open stream whose handler ignores the close would otherwise keep
    // the process alive past the harness's stop timeout.
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.once('SIGTERM', shutDown);
  process.once('SIGINT', shutDown);
}
