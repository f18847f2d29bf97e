import { createApiClient } from "@upload-gateway/client";
import { partSizeFor, useInterruptedUploads, useUploadQueue } from "@upload-gateway/react";
import { useEffect, useState } from "react";
import { AppHeader } from "./components/app-header";
import { DropZone } from "./components/drop-zone";
import { PartLegend } from "./components/part-strip";
import { RecentUploads } from "./components/recent-uploads";
import { ResumeOffers } from "./components/resume-offers";
import { SignInForm } from "./components/sign-in-form";
import { UploadAnnouncer } from "./components/upload-announcer";
import { UploadCard } from "./components/upload-card";
import { initialSession, signOut, type Session } from "./session/session";

/**
 * The page is served by the gateway itself: the API is where the page is, under the same path (the gateway may be
 * mounted under a prefix, e.g. `/media/` behind a proxy). No trailing slash: the client appends `/api/...`.
 */
const BASE_URL = new URL(".", document.baseURI).href.replace(/\/$/, "");

export function App() {
  // undefined while the page finds out whether it is on a dev gateway.
  const [session, setSession] = useState<Session | null | undefined>(undefined);

  useEffect(() => {
    void initialSession(BASE_URL).then(setSession);
  }, []);

  return (
    <>
      <AppHeader
        session={session ?? null}
        onSignOut={() => {
          signOut();
          setSession(null);
        }}
      />
      <main className="container">
        <section className="intro">
          <h1>Send big files straight to storage</h1>
          <p>
            Files go up in parallel parts, directly to the bucket. Pause, resume, or even reload the page: only the
            parts that are missing are sent again.
          </p>
        </section>
        {session === undefined && <p className="muted loading">Connecting to the gateway…</p>}
        {session === null && <SignInForm baseUrl={BASE_URL} onSignedIn={setSession} />}
        {session && <Uploads key={`${session.projectId}:${session.apiKey}`} session={session} />}
      </main>
      <footer className="app-footer">
        <span>Upload Gateway</span>
        <a href="docs">API documentation</a>
        <a href="api/openapi.json">OpenAPI</a>
      </footer>
    </>
  );
}

function Uploads({ session }: { session: Session }) {
  // Made once for this session (the component is keyed by it).
  const [settled, setSettled] = useState(0);
  const [api] = useState(() => createApiClient({ baseUrl: session.baseUrl, apiKey: session.apiKey }));
  const uploads = useUploadQueue({
    client: api,
    projectId: session.projectId,
    // Small parts (about 256 a file): enough to watch them go up, and to resume at a fine grain.
    partSize: partSizeFor,
    onSettled: () => setSettled((n) => n + 1),
  });
  const interrupted = useInterruptedUploads(uploads);
  const { items, busy } = uploads;
  const keyList = items.flatMap((i) => (i.requestKey ? [i.requestKey] : [])).join(" ");

  useEffect(() => {
    // Leaving interrupts the uploads; they can be continued, but only by choosing the files again.
    const warn = (event: BeforeUnloadEvent) => {
      if (busy) event.preventDefault();
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [busy]);

  return (
    <>
      <ResumeOffers interrupted={interrupted} />
      <DropZone onFiles={(files) => uploads.add(files)} />
      <UploadAnnouncer items={items} />
      {items.length > 0 && (
        <section className="uploads" aria-labelledby="uploads-title">
          <header className="section-head">
            <h2 id="uploads-title">Uploads</h2>
            <PartLegend />
          </header>
          <div className="upload-list">
            {items.map((item) => (
              <UploadCard key={item.id} item={item} queue={uploads} />
            ))}
          </div>
        </section>
      )}
      {/* Asked again when an upload starts (the gateway knows it now) and when one ends. */}
      <RecentUploads api={api} projectId={session.projectId} refreshKey={`${keyList}|${settled}`} />
    </>
  );
}
