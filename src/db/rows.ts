/**
 * Row and repository types in engine-neutral terms: what services, controllers, the dashboard,
 * the CLI and the webhook worker name when they hold a row, and what the PostgreSQL engine and
 * src/db/store.ts implement. The SQLite engine's repositories (src/db/sqlite/) declare them; this
 * module only re-exports their types, so code above src/db/ never imports an engine to name one.
 */
export type { AdminRepo, AdminRow, AdminSessionRow } from './sqlite/admins'
export type {
  ChatMessageRow,
  ChatRepo,
  ChatSessionRow,
  ChatSessionView,
  ChatSettingsRow,
  FeedbackRow,
  FeedbackView,
  HandoffRow,
  HandoffView,
  MessageRole,
  SessionStatus,
} from './sqlite/chat'
export type { StarterRepo, StarterRow } from './sqlite/conversation-starters'
export type { HealthRepo } from './sqlite/health'
export type { IdempotencyClaim, IdempotencyRepo, IdempotencyResponse, IdempotencyRow } from './sqlite/idempotency'
export type { KbArticleRow, KbHit, KbRepo } from './sqlite/kb'
export type { MetaRepo } from './sqlite/meta'
export type { BucketRow, RateBucketRepo } from './sqlite/rate-buckets'
export type { MembershipRow, SegmentRepo, SegmentRow } from './sqlite/segments'
export type { SiteIdentityRepo, SiteIdentityRow } from './sqlite/site-identity'
export type { SiteRepo, SiteRow } from './sqlite/sites'
export type { TagRepo, TagRow } from './sqlite/tags'
export type { TokenRepo, TokenRow, TokenUsageDelta } from './sqlite/tokens'
export type { VisitorEventRepo, VisitorEventRow } from './sqlite/visitor-events'
export type { VisitorListFilter, VisitorRepo, VisitorRow } from './sqlite/visitors'
export type { EventFeedFilter, EventPruneBatch, FeedEventRow, FeedPosition, VisitorEventBody, WebhookEventStatements } from './sqlite/webhook-events'
export type {
  AttemptRecord,
  AttemptRow,
  ClaimCycle,
  ClaimLimits,
  DeliveryFilter,
  DeliveryRow,
  DeliveryStatus,
  EventRow,
  FinishedAttempt,
  SendableRow,
  SubscriptionRow,
  WebhookRepo,
} from './sqlite/webhooks'
