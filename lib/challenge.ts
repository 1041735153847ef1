/** RFC 6750 section 3.1 error codes. */
export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/**
 * Builds a `WWW-Authenticate` value as RFC 6750 section 3 describes, in the same form
 * `passport-http-bearer` sends: `Bearer realm="Users", error="invalid_token"`.
 */
export function bearerChallenge(realm: string, scope: string[], error?: BearerError): string {
  const params = [`realm="${quote(realm)}"`];
  if (scope.length > 0) params.push(`scope="${quote(scope.join(' '))}"`);
  if (error !== undefined) params.push(`error="${error}"`);
  return `Bearer ${params.join(', ')}`;
}

function quote(value: string): string {
  return value.replace(/["\\]/g, '\\$&');
}
