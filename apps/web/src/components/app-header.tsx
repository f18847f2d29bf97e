import type { Session } from "../session/session";

/** The brand, who the page uploads as, and the way to the API docs. */
export function AppHeader({ session, onSignOut }: { session: Session | null; onSignOut?: () => void }) {
  return (
    <header className="app-header">
      <a className="brand" href="./">
        <img src="favicon.svg" alt="" width="28" height="28" />
        <span>Upload Gateway</span>
      </a>
      <nav className="header-nav">
        {session && (
          <span
            className="project-chip"
            title={session.source === "dev" ? "The dev project of this gateway" : "Kept for this tab"}
          >
            Project <strong>{session.projectId}</strong>
            {session.source === "dev" && <span className="tag">dev</span>}
          </span>
        )}
        {session?.source === "entered" && onSignOut && (
          <button type="button" className="button button-quiet" onClick={onSignOut}>
            Change
          </button>
        )}
        <a className="header-link" href="docs">
          API docs
        </a>
      </nav>
    </header>
  );
}
