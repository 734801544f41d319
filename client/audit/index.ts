/** The auditor: re-checks a task's whole on-chain history against the content it names. */
export { auditTask, releaseAuditResources, type AuditOptions } from './audit.ts';
export {
  AuditSetupError,
  readChainHistory,
  type ChainHistory,
  type ChainOptions,
  type Claimed,
  type LogProblem,
  type PrivateClaimed,
  type RoundCommitted,
  type TaskCreated,
} from './chain-history.ts';
export {
  coordinatorSource,
  directorySource,
  fetchVerified,
  MembersListError,
  SourceUnavailableError,
  type ContentKind,
  type ContentSource,
  type CoordinatorSourceOptions,
  type FetchResult,
  type VerifiedFetch,
} from './content-source.ts';
export { bucketSource, BucketUrl, type BucketSourceOptions } from './s3-source.ts';
export {
  CHECKS,
  columnsOf,
  formatFinding,
  formatTable,
  summaryLine,
  type AuditReport,
  type CheckName,
  type CheckResult,
  type ClaimRow,
  type ColumnStatus,
  type PrivateClaimRow,
  type RoundColumns,
  type RoundRow,
} from './report.ts';
