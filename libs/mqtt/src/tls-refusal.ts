/**
 * A TLS failure that retrying will not fix — the broker refused this client's certificate, or this
 * client does not trust the broker's — as a sentence saying which side refused and why, or
 * undefined for anything else (a reset, a refused TCP connection: those are retried).
 *
 * Refusals by the broker arrive as TLS alerts (OpenSSL codes ERR_SSL_…_ALERT_…); with TLS 1.3 the
 * client's handshake has already completed when the broker checks the certificate, so the alert
 * comes as an error on the open socket. Our own verification of the broker's certificate fails
 * with the X.509 verification codes.
 */
export function tlsRefusal(err: NodeJS.ErrnoException): string | undefined {
  const code = err.code ?? '';
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/.exec(code)?.[1];
  if (alert) {
    const reasons: Record<string, string> = {
      CERTIFICATE_REQUIRED: 'it requires a client certificate and none was presented',
      HANDSHAKE_FAILURE: 'the handshake failed (it may require a client certificate and none was presented)',
      CERTIFICATE_EXPIRED: 'the client certificate has expired',
      UNKNOWN_CA: 'the client certificate was not issued by a CA the broker trusts',
      BAD_CERTIFICATE: 'it rejected the client certificate',
      CERTIFICATE_REVOKED: 'the client certificate has been revoked',
      UNSUPPORTED_CERTIFICATE: 'it does not accept this kind of client certificate',
      CERTIFICATE_UNKNOWN: 'it could not verify the client certificate',
      DECRYPT_ERROR: 'the client certificate and key did not verify',
      ACCESS_DENIED: 'it denied access to the client certificate',
    };
    return `the broker refused the TLS connection: ${reasons[alert] ?? `TLS alert ${alert.toLowerCase().replace(/_/g, ' ')}`}`;
  }
  const untrusted = [
    'SELF_SIGNED_CERT_IN_CHAIN',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'UNABLE_TO_GET_ISSUER_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'CERT_HAS_EXPIRED',
    'CERT_NOT_YET_VALID',
    'CERT_SIGNATURE_FAILURE',
    'ERR_TLS_CERT_ALTNAME_INVALID',
  ];
  if (untrusted.includes(code)) return `the broker's certificate is not trusted: ${err.message} (${code})`;
  return undefined;
}
