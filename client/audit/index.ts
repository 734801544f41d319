/** The auditor: re-checks a task's whole on-chain history against the content it names. */
export { auditTask, type AuditOptions } from './audit.ts';
export { AuditSetupError, readChainHistory, type ChainHistory, type ChainOptions, type Claimed, type LogProblem, type RoundCommitted, type TaskCreated } from './chain-history.ts';
export {
  coordinatorSource,
  directorySource,
  fetchVerified,
  SourceUnavailableError,
  type ContentKind,
  type ContentSource,
  type CoordinatorSourceOptions,
  type FetchResult,
  type VerifiedFetch,
} from './content-source.ts';
export {
  CHECKS,
  columnsOf,
  formatFinding,
  formatTable,
  summaryLine,
  type AuditReport,
  type CheckName,
  type CheckResult,
  type ColumnStatus,
  type RoundColumns,
  type RoundRow,
} from './report.ts';
