/** Error codes of the API envelope (spec §5.14) plus the generic ones every route may return. */
export type ErrorCode =
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "INVALID_INPUT"
  | "NOT_FOUND"
  | "CONFLICT"
  | "RATE_LIMITED"
  | "PAYLOAD_TOO_LARGE"
  | "INTERNAL"
  | "UNAVAILABLE"
  | "PROJECT_NOT_FOUND"
  | "TASK_ALREADY_CLAIMED"
  | "NO_REPO_ACCESS"
  | "GITHUB_INVITE_PENDING"
  | "AI_GENERATION_FAILED"
  | "INSUFFICIENT_FUNDS"
  | "VERIFICATION_FAILED"
  | "PROOF_INVALID"
  | "DEPOSIT_NOT_CONFIRMED"
  | (string & {});

/** A domain error that knows its API code and HTTP status; `details` must be safe to show. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    status = 400,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "AppError";
    this.code = code;
    this.status = status;
    this.details = details;
  }

  /** The envelope every API error uses: `{ error: { code, message, details } }`. */
  toJSON() {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/** Field errors keyed by field path, as returned in `details.fields`. */
export type FieldErrors = Record<string, string>;

export const invalidInput = (fields: FieldErrors = {}, message = "The request is not valid.") =>
  new AppError("INVALID_INPUT", message, 400, Object.keys(fields).length ? { fields } : {});

export const unauthorized = (message = "Sign in to continue.") => new AppError("UNAUTHORIZED", message, 401);

export const forbidden = (message = "You do not have permission to do this.") =>
  new AppError("FORBIDDEN", message, 403);

export const notFound = (what = "Resource", code: ErrorCode = "NOT_FOUND") =>
  new AppError(code, `${what} not found.`, 404);

export const conflict = (message: string, code: ErrorCode = "CONFLICT", details: Record<string, unknown> = {}) =>
  new AppError(code, message, 409, details);

export const rateLimited = (retryAfterSeconds: number) =>
  new AppError("RATE_LIMITED", "Too many requests; slow down.", 429, { retryAfterSeconds });

export const unavailable = (message: string, details: Record<string, unknown> = {}) =>
  new AppError("UNAVAILABLE", message, 503, details);

/** Wraps a storage failure so the cause is kept for the log but never shown to the caller. */
export class StoreError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super("INTERNAL", message, 500, {}, options);
    this.name = "StoreError";
  }
}

/** Turns a zod error into field errors for `invalidInput`. */
export function zodFieldErrors(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): FieldErrors {
  const fields: FieldErrors = {};
  for (const issue of issues) {
    const key = issue.path.map(String).join(".") || "_";
    fields[key] ??= issue.message;
  }
  return fields;
}
