import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import forge from 'node-forge';

/** A certificate and its private key, PEM. */
export interface Issued {
  cert: string;
  key: string;
}

interface IssueOptions {
  commonName: string;
  /** The CA that signs it; none: self-signed. */
  issuer?: Issued;
  isCa?: boolean;
  /** Subject alternative names: IP addresses (a server reached as 127.0.0.1) and DNS names. */
  ip?: string[];
  dns?: string[];
  notBefore?: Date;
  notAfter?: Date;
}

const DAY = 86_400_000;

/**
 * Issues an X.509 certificate with node-forge (node:crypto can parse certificates but not make
 * them; the openssl CLI of Debian's OpenSSL 3.0 cannot set a notAfter in the past). Keys come from
 * node:crypto, which is native and fast.
 */
export function issueCertificate(options: IssueOptions): Issued {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`; // positive, unique
  cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - DAY);
  cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + 30 * DAY);
  const subject = [{ name: 'commonName', value: options.commonName }];
  cert.setSubject(subject);
  const issuerCert = options.issuer ? forge.pki.certificateFromPem(options.issuer.cert) : undefined;
  cert.setIssuer(issuerCert ? issuerCert.subject.attributes : subject);
  const altNames = [...(options.ip ?? []).map((ip) => ({ type: 7, ip })), ...(options.dns ?? []).map((value) => ({ type: 2, value }))];
  cert.setExtensions([
    { name: 'basicConstraints', cA: options.isCa ?? false, critical: true },
    options.isCa ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true } : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    ...(options.isCa ? [] : [{ name: 'extKeyUsage', serverAuth: altNames.length > 0, clientAuth: altNames.length === 0 }]),
    ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
    { name: 'subjectKeyIdentifier' },
  ]);
  const signingKey = forge.pki.privateKeyFromPem(options.issuer?.key ?? privateKey);
  cert.sign(signingKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: privateKey };
}

/** The certificates of a mutual-TLS test, written as PEM files to a folder. */
export interface TestPki {
  /** The CA the broker trusts, which also signed the broker's certificate. */
  caFile: string;
  /** Another CA, which signed strangerClient. */
  otherCaFile: string;
  server: { certFile: string; keyFile: string };
  /** Signed by the CA, valid now. */
  client: { certFile: string; keyFile: string };
  /** Signed by the CA, expired yesterday. */
  expiredClient: { certFile: string; keyFile: string };
  /** Valid now, but signed by another CA the broker does not know. */
  strangerClient: { certFile: string; keyFile: string };
}

/** A CA, a server certificate for 127.0.0.1/localhost and three client certificates (valid, expired, from another CA). */
export function makeTestPki(dir: string): TestPki {
  const write = (name: string, issued: Issued) => {
    const certFile = path.join(dir, `${name}.crt`);
    const keyFile = path.join(dir, `${name}.key`);
    fs.writeFileSync(certFile, issued.cert);
    fs.writeFileSync(keyFile, issued.key, { mode: 0o600 });
    return { certFile, keyFile };
  };
  const ca = issueCertificate({ commonName: 'meterstream test CA', isCa: true });
  const otherCa = issueCertificate({ commonName: 'another CA', isCa: true });
  const now = Date.now();
  return {
    caFile: write('ca', ca).certFile,
    otherCaFile: write('other-ca', otherCa).certFile,
    server: write('server', issueCertificate({ commonName: 'broker', issuer: ca, ip: ['127.0.0.1'], dns: ['localhost'] })),
    client: write('client', issueCertificate({ commonName: 'meterstream-bridge', issuer: ca })),
    expiredClient: write('expired-client', issueCertificate({ commonName: 'meterstream-bridge-expired', issuer: ca, notBefore: new Date(now - 30 * DAY), notAfter: new Date(now - DAY) })),
    strangerClient: write('stranger-client', issueCertificate({ commonName: 'meterstream-bridge-stranger', issuer: otherCa })),
  };
}
