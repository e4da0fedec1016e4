/**
 * Dashboard sessions: a JWT (jose, HS256) in a cookie, signed with a secret generated once per
 * install and kept in the database, paired with a session row so signing out revokes the token
 * before it expires. The CSRF tokens of forms are derived from the same secret.
 */
import { jwtVerify, SignJWT } from 'jose'
import type { Clock } from '../clock'
import type { AdminRow, AdminSessionRow } from '../db/rows'
import type { Store } from '../db/store'
import { hmacSha256, randomSecret, sameSecret } from '../random'

const SECRET_KEY = 'dashboard_session_secret'
const SECRET_LOCK_KEY = 'dashboard_session_secret_lock'
const ISSUER = 'mlc'
const AUDIENCE = 'mlc-dashboard'

/** A signed-in admin and the session that proves it. */
export interface SignedIn {
  admin: AdminRow
  session: AdminSessionRow
}

/** The install's signing secret, created on first use (a race between processes keeps the first). */
export async function sessionSecret(store: Store): Promise<Uint8Array> {
  let value = await store.meta.get(SECRET_KEY)
  if (!value) {
    value = await store.transaction(async (tx) => {
      // Written first so that on PostgreSQL a second process creating the secret at the same time
      // waits on this row until the first commits, then reads the first one's secret below
      // (SQLite serialises write transactions anyway).
      await tx.meta.set(SECRET_LOCK_KEY, '1')
      const existing = await tx.meta.get(SECRET_KEY)
      if (existing) return existing
      const fresh = randomSecret('', 32)
      await tx.meta.set(SECRET_KEY, fresh)
      return fresh
    })
  }
  return new Uint8Array(Buffer.from(value, 'base64url'))
}

/** Issues and checks session JWTs and the CSRF tokens tied to them. */
export class DashboardSessions {
  private key: Promise<Uint8Array> | null = null

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    /** Session lifetime in milliseconds. */
    readonly ttlMs: number,
  ) {}

  private secret(): Promise<Uint8Array> {
    if (!this.key) {
      const loading = sessionSecret(this.store)
      this.key = loading
      // Storage that could not answer is asked again on the next call.
      loading.catch(() => {
        if (this.key === loading) this.key = null
      })
    }
    return this.key
  }

  /** Starts a session for an admin; returns the JWT for the cookie. */
  async start(admin: AdminRow, meta: { ip: string; userAgent: string }): Promise<{ jwt: string; session: AdminSessionRow }> {
    const now = this.clock.now()
    const key = await this.secret()
    const session = await this.store.transaction(async (tx) => {
      await tx.admins.dropExpiredSessions(now)
      const row = await tx.admins.insertSession(randomSecret('', 18), admin.id, now, now + this.ttlMs, meta.ip, meta.userAgent.slice(0, 300))
      await tx.admins.markSignedIn(admin.id, now)
      return row
    })
    const jwt = await new SignJWT({ sid: session.id })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(String(admin.id))
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(session.expires_ms / 1000))
      .sign(key)
    return { jwt, session }
  }

  /** The signed-in admin for a cookie value, or null (bad signature, expired, signed out, admin gone). */
  async read(jwt: string | undefined): Promise<SignedIn | null> {
    if (!jwt) return null
    const now = this.clock.now()
    let claims: { sub?: string; sid?: unknown }
    try {
      const verified = await jwtVerify(jwt, await this.secret(), { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE, currentDate: new Date(now) })
      claims = verified.payload
    } catch {
      return null
    }
    if (typeof claims.sid !== 'string') return null
    const session = await this.store.admins.sessionById(claims.sid)
    if (!session || session.revoked_ms !== null || session.expires_ms <= now || String(session.admin_id) !== claims.sub) return null
    const admin = await this.store.admins.byId(session.admin_id)
    return admin ? { admin, session } : null
  }

  /** Signs a session out: its JWT stops working at once. */
  async end(sessionId: string): Promise<void> {
    await this.store.admins.revokeSession(sessionId, this.clock.now())
  }

  private async mac(purpose: string): Promise<string> {
    return hmacSha256(await this.secret(), purpose).toString('base64url')
  }

  /** The CSRF token of a signed-in session's forms. */
  csrfFor(sessionId: string): Promise<string> {
    return this.mac(`csrf:${sessionId}`)
  }

  /** The CSRF token of the sign-in and setup forms, bound to a pre-session cookie nonce. */
  preCsrfFor(nonce: string): Promise<string> {
    return this.mac(`pre:${nonce}`)
  }

  /** Constant-time comparison of a submitted CSRF token with the expected one. */
  static sameToken(expected: string, given: unknown): boolean {
    return typeof given === 'string' && sameSecret(expected, given)
  }
}
