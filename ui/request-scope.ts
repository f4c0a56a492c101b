// What the page shell knows about the request it renders for, without every page passing it along: the path (to
// mark the current page in the navigation) and, for pages that do not name their viewer (error pages, the API
// docs), who is signed in. Entered once per request by the app (src/app.ts, onRequest).
import { AsyncLocalStorage } from "node:async_hooks";
import type { Viewer } from "./layout";

/** The signed-in viewer of a page and the CSRF token its sign-out form carries. */
export interface ScopeViewer {
  viewer: Viewer;
  csrfToken?: string;
}

/** The request a page is rendered for. */
export interface RequestScope {
  path: string;
  /** The browser session's user, resolved on first use and then remembered. */
  viewer: () => Promise<ScopeViewer | null>;
}

const store = new AsyncLocalStorage<RequestScope>();

/** Sets the scope of the request being handled; everything the handler awaits sees it. */
export function enterRequestScope(path: string, resolve: () => Promise<ScopeViewer | null>): void {
  let viewer: Promise<ScopeViewer | null> | undefined;
  store.enterWith({
    path,
    viewer: () => {
      viewer ??= resolve().catch(() => null);
      return viewer;
    },
  });
}

/** The scope of the request being rendered, when there is one (not in unit tests rendering a view alone). */
export const requestScope = (): RequestScope | undefined => store.getStore();
