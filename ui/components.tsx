// Shared page pieces: the form component (fields with their errors, the error summary) and small partials.
// Pages get `values` and `errors` from the form kit (src/core/http/form.ts) and hand them to these.
import type { Children } from "@kitajs/html";
import type { LayoutProps } from "./layout";

/** A notice at the top of a page (the layout shows it). */
export type Flash = NonNullable<LayoutProps["flash"]>;

/** A form's typed values and field errors, as a page renders them again after a failed save. */
export interface FormProps {
  values?: Record<string, string | string[]>;
  errors?: Record<string, string>;
}

/** The hidden field every state-changing form carries. */
export const CsrfField = ({ token }: { token?: string }) =>
  token ? <input type="hidden" name="_csrf" value={token} /> : "";

/**
 * The question an action that cannot be undone asks first, saying what will happen. app.js asks it in the browser
 * (and drops the field when the answer is yes); without JavaScript the server asks it on a page of its own.
 */
export const ConfirmField = ({ text }: { text?: string }) =>
  text ? <input type="hidden" name="_confirm" value={text} /> : "";

/** A form of one button for an action that asks first (`confirm`): withdraw, remove, delete. */
export const ConfirmButton = (p: {
  action: string;
  csrf?: string;
  confirm: string;
  label: string;
  danger?: boolean;
  /** The form's class (e.g. "card" for a form standing on its own). */
  class?: string;
  /** The button's name for screen readers when `label` alone is ambiguous ("Delete" in a list). */
  ariaLabel?: string;
}) => (
  <form method="post" action={p.action} class={p.class}>
    <CsrfField token={p.csrf} />
    <ConfirmField text={p.confirm} />
    <button type="submit" class={p.danger ? "danger" : "secondary"} aria-label={p.ariaLabel} safe>
      {p.label}
    </button>
  </form>
);

/** A table's header row: a column for each name, then, with `actions`, one for the row's buttons (named for screen readers). */
export const TableHead = ({ cols, actions }: { cols: string[]; actions?: boolean }) => (
  <thead>
    <tr>
      {cols.map((c) => (
        <th scope="col" safe>
          {c}
        </th>
      ))}
      {actions ? (
        <th scope="col">
          <span class="sr-only">Actions</span>
        </th>
      ) : (
        ""
      )}
    </tr>
  </thead>
);

/** A field's error message under its input. */
export const FieldError = ({ errors, name }: { errors?: Record<string, string>; name: string }) =>
  errors?.[name] ? (
    <span class="help bad" id={`${name}-error`} role="alert" safe>
      {errors[name]}
    </span>
  ) : (
    ""
  );

/** The attributes of an input whose field has an error: marked invalid and pointing at its message; none otherwise. */
export const invalid = (errors: Record<string, string> | undefined, name: string) =>
  errors?.[name] ? { "aria-invalid": "true", "aria-describedby": `${name}-error` } : {};

/** The value a form typed into one field ("" when none), for `value=` attributes. */
export const typed = (values: FormProps["values"], name: string): string => {
  const v = values?.[name];
  return Array.isArray(v) ? (v[0] ?? "") : (v ?? "");
};

/**
 * A labelled text input with its error: the typed value kept, `aria-invalid` and `aria-describedby` set when the
 * field has an error. `children` go after the label text (help text).
 */
export function Field(
  props: FormProps & {
    name: string;
    label: string;
    type?: string;
    required?: boolean;
    maxlength?: number;
    minlength?: number;
    placeholder?: string;
    autocomplete?: string;
    children?: Children;
  },
) {
  return (
    <label>
      <span safe>{props.label}</span>
      {props.children as "safe"}
      <input
        name={props.name}
        type={props.type ?? "text"}
        value={typed(props.values, props.name)}
        required={props.required}
        maxlength={props.maxlength === undefined ? undefined : String(props.maxlength)}
        minlength={props.minlength === undefined ? undefined : String(props.minlength)}
        placeholder={props.placeholder}
        autocomplete={props.autocomplete}
        {...invalid(props.errors, props.name)}
      />
      <FieldError errors={props.errors} name={props.name} />
    </label>
  );
}

/**
 * A password field with its error. `fresh`: a new password (at least 10 characters, the browser may suggest one);
 * otherwise the current one. Never filled in again after an error.
 */
export const PasswordField = (props: {
  errors?: Record<string, string>;
  name?: string;
  label?: string;
  help?: string;
  fresh?: boolean;
}) => (
  <Field
    name={props.name ?? "password"}
    label={props.label ?? "Password"}
    type="password"
    required
    minlength={props.fresh ? 10 : undefined}
    autocomplete={props.fresh ? "new-password" : "current-password"}
    errors={props.errors}
  >
    {props.help || props.fresh ? (
      <span class="help" safe>
        {props.help ?? "At least 10 characters."}
      </span>
    ) : (
      ""
    )}
  </Field>
);

/** The list of a form's errors at its top, each linking to its field; nothing when the form has none. */
export function ErrorSummary({ errors, message }: { errors?: Record<string, string>; message?: string }) {
  const entries = Object.entries(errors ?? {});
  if (!entries.length) return "";
  return (
    <div class="flash error" role="alert">
      <span safe>{message ?? "Check the fields marked below."}</span>
      <ul>
        {entries.map(([name, text]) => (
          <li>
            <a href={`#${name}-error`} safe>
              {text}
            </a>
          </li>
        ))}
      </ul>
    </div>
  );
}

/**
 * The acceptance test fields of a task form (draft edit and the task page): test ids and test files, one per
 * line, with their errors (the field errors of `acceptanceTests.N` show on the list).
 */
export function AcceptanceFields(props: FormProps & { tests?: string[]; files?: string[] }) {
  const err = (name: string) =>
    props.errors?.[name] ?? Object.entries(props.errors ?? {}).find(([k]) => k.startsWith(`${name}.`))?.[1];
  const tests = typed(props.values, "acceptanceTests") || (props.tests ?? []).join("\n");
  const files = typed(props.values, "testFiles") || (props.files ?? []).join("\n");
  return (
    <>
      <label>
        Acceptance tests{" "}
        <span class="help">
          one test id per line, as the test runner names it (at most 32); each must run and pass. Empty: every test must
          pass.
        </span>
        <textarea
          name="acceptanceTests"
          rows="3"
          aria-invalid={err("acceptanceTests") ? "true" : undefined}
          aria-describedby={err("acceptanceTests") ? "acceptanceTests-error" : undefined}
          safe
        >
          {tests}
        </textarea>
        <FieldError errors={{ acceptanceTests: err("acceptanceTests") ?? "" }} name="acceptanceTests" />
      </label>
      <label>
        Acceptance test files{" "}
        <span class="help">
          one repository path per line (relative, no ..); taken from the pinned commit over the contributor's work
        </span>
        <textarea
          name="testFiles"
          rows="2"
          aria-invalid={err("testFiles") ? "true" : undefined}
          aria-describedby={err("testFiles") ? "testFiles-error" : undefined}
          safe
        >
          {files}
        </textarea>
        <FieldError errors={{ testFiles: err("testFiles") ?? "" }} name="testFiles" />
      </label>
    </>
  );
}

const shortHash = (h: string) => `${h.slice(0, 10)}…${h.slice(-6)}`;

/** A transaction hash, shortened, linked to the block explorer when one is configured (`url`). */
export const TxLink = ({ hash, url }: { hash: string | null | undefined; url?: string }) =>
  !hash ? (
    <span class="muted">—</span>
  ) : url ? (
    <a href={url} rel="noopener noreferrer" title={hash}>
      <code safe>{shortHash(hash)}</code>
    </a>
  ) : (
    <code title={hash} safe>
      {shortHash(hash)}
    </code>
  );

/**
 * One row of a transactions table (time, what, amount, transaction), labelled for `stack-cards` tables on phones.
 * `what` is markup the caller escaped; `at` and `amount` are text.
 */
export function TxRow(props: {
  at: string;
  what: JSX.Element;
  whatLabel?: string;
  amount: string;
  hash: string | null | undefined;
  url?: string;
}) {
  const what: JSX.Element = props.what;
  return (
    <tr>
      <td data-label="Time" safe>
        {props.at}
      </td>
      <td data-label={props.whatLabel ?? "What"}>{what}</td>
      <td data-label="Amount" class="num" safe>
        {props.amount}
      </td>
      <td data-label="Transaction">
        <TxLink hash={props.hash} url={props.url} />
      </td>
    </tr>
  );
}
