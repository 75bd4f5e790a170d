import { Ajv, type ErrorObject } from 'ajv';

/** One ajv instance for rule-chain documents and node configurations: defaults filled, all errors reported. */
export const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });

export interface SchemaProblem {
  /** JSON pointer of the offending value ('' for the whole document). */
  readonly pointer: string;
  readonly message: string;
}

/** ajv's errors as pointer + plain sentence: 'missing required key "x"', 'must be integer'. */
export function describeAjvErrors(errors: readonly ErrorObject[] | null | undefined): SchemaProblem[] {
  return (errors ?? []).map((e) => {
    const pointer = e.instancePath;
    if (e.keyword === 'required') return { pointer, message: `missing required key "${String(e.params.missingProperty)}"` };
    if (e.keyword === 'enum') return { pointer, message: `must be one of ${JSON.stringify(e.params.allowedValues)}` };
    if (e.keyword === 'additionalProperties') {
      return { pointer, message: `unknown key "${String(e.params.additionalProperty)}"` };
    }
    return { pointer, message: e.message ?? e.keyword };
  });
}
