// Certificates for the TLS suites, made at run time with the openssl CLI in
// a folder the caller owns: a private CA, a second (untrusted) CA, server
// certificates that are good, signed by the wrong CA, for the wrong name,
// or expired, and a client certificate for mTLS. EC P-256 keys: quick to
// make. Every file is PEM.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// The only name in the wrong-hostname certificate.
export const WRONG_HOST_NAME = 'redis.wrong-name.test';

function openssl(cwd, args) {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30000 });
  } catch (err) {
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr ?? err.message}`);
  }
}

const keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function makeCa(dir, name, subject) {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  openssl(dir, ['req', '-x509', ...keyArgs, '-keyout', key, '-out', cert, '-days', '2', '-subj', subject,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { cert, key };
}

// A key and a certificate signing request for `subject`, with `extensions`
// (lines of an x509v3 extension file) to put into the certificate.
function makeRequest(dir, name, subject, extensions) {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  openssl(dir, ['req', ...keyArgs, '-keyout', key, '-out', csr, '-subj', subject]);
  writeFileSync(ext, `${extensions.join('\n')}\n`);
  return { key, csr, ext, cert: path.join(dir, `${name}.crt`) };
}

function signFor(dir, ca, request, days = 2) {
  openssl(dir, ['x509', '-req', '-in', request.csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-out', request.cert, '-days', String(days), '-extfile', request.ext]);
  return { cert: request.cert, key: request.key };
}

// `openssl x509` cannot back-date; `openssl ca` takes explicit dates.
function signExpired(dir, ca, request) {
  const caDir = path.join(dir, 'ca-db');
  mkdirSync(caDir, { recursive: true });
  writeFileSync(path.join(caDir, 'index.txt'), '');
  writeFileSync(path.join(caDir, 'serial'), '1000\n');
  const config = path.join(caDir, 'ca.cnf');
  writeFileSync(config, [
    '[ca]', 'default_ca = test_ca', '[test_ca]',
    `database = ${path.join(caDir, 'index.txt')}`, `new_certs_dir = ${caDir}`,
    `certificate = ${ca.cert}`, `private_key = ${ca.key}`, `serial = ${path.join(caDir, 'serial')}`,
    'default_md = sha256', 'policy = any_name', 'unique_subject = no', 'copy_extensions = none',
    '[any_name]', 'commonName = supplied', '',
  ].join('\n'));
  openssl(dir, ['ca', '-batch', '-config', config, '-in', request.csr, '-out', request.cert, '-notext',
    '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-extfile', request.ext]);
  return { cert: request.cert, key: request.key };
}

export function makeTlsMaterial(dir) {
  const serverExt = ['subjectAltName=IP:127.0.0.1,DNS:localhost', 'extendedKeyUsage=serverAuth'];
  const ca = makeCa(dir, 'ca', '/CN=bullmq-worker test CA');
  const wrongCa = makeCa(dir, 'wrong-ca', '/CN=bullmq-worker untrusted CA');
  return {
    ca,
    wrongCa,
    server: signFor(dir, ca, makeRequest(dir, 'server', '/CN=localhost', serverExt)),
    wrongCaServer: signFor(dir, wrongCa, makeRequest(dir, 'wrong-ca-server', '/CN=localhost', serverExt)),
    wrongHostServer: signFor(dir, ca, makeRequest(dir, 'wrong-host-server', `/CN=${WRONG_HOST_NAME}`,
      [`subjectAltName=DNS:${WRONG_HOST_NAME}`, 'extendedKeyUsage=serverAuth'])),
    expiredServer: signExpired(dir, ca, makeRequest(dir, 'expired-server', '/CN=localhost', serverExt)),
    client: signFor(dir, ca, makeRequest(dir, 'client', '/CN=bullmq-worker test client',
      ['extendedKeyUsage=clientAuth'])),
    wrongCaClient: signFor(dir, wrongCa, makeRequest(dir, 'wrong-ca-client', '/CN=untrusted client',
      ['extendedKeyUsage=clientAuth'])),
  };
}
