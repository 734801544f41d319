import { ProtocolError } from '../errors.ts';

/**
 * A fault of the secure-aggregation protocol, naming the artefact at fault: `keys/<client>`,
 * `shares/<client>`, `reveal/<client>`, `update/<client>`, `survivors`, or `transcript`. The
 * coordinator records it as the reason a message was refused or a round failed; the auditor prints
 * it as the finding.
 */
export class SecAggFault extends ProtocolError {
  constructor(
    code: string,
    message: string,
    readonly artefact: string,
  ) {
    super(code, message);
    this.name = 'SecAggFault';
  }
}
