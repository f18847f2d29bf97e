import { useState, type FormEvent } from "react";
import type { Session } from "../session/session";
import { signIn } from "../session/session";

/** Outside dev mode: asks once for the project and its API key, checks them with the gateway, keeps them for the tab. */
export function SignInForm({ baseUrl, onSignedIn }: { baseUrl: string; onSignedIn: (session: Session) => void }) {
  const [projectId, setProjectId] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [checking, setChecking] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setChecking(true);
    try {
      onSignedIn(await signIn(baseUrl, projectId, apiKey));
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setChecking(false);
    }
  };

  return (
    <form className="card sign-in" onSubmit={(event) => void submit(event)}>
      <h2>Connect to a project</h2>
      <p className="muted">
        Enter a project and one of its API keys. They are kept in this tab only and sent to this gateway only.
      </p>
      <label className="field">
        <span>Project</span>
        <input
          value={projectId}
          onChange={(e) => setProjectId(e.target.value)}
          autoComplete="off"
          spellCheck={false}
          placeholder="films"
        />
      </label>
      <label className="field">
        <span>API key</span>
        <input type="password" value={apiKey} onChange={(e) => setApiKey(e.target.value)} autoComplete="off" />
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" className="button button-primary" disabled={checking}>
        {checking ? "Checking…" : "Connect"}
      </button>
    </form>
  );
}
