import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Storage } from "../../src/storage/storage.port";
import { hashReservationKey, objectKey } from "../../src/uploads/upload-keys";
import { randomContent } from "./test-content";
import { openMarkerOf } from "./workflow";

/**
 * Requests racing on one upload, asserted on every reply and on the final state. Shared by the embedded store, S3
 * through one gateway, and S3 through three gateway processes behind a round-robin proxy, with the same test names.
 */
export interface RaceHarness {
  /** Sends an API request to `/api/projects/{projectId}/uploads{path}` with the test key. */
  api(method: "GET" | "POST" | "PUT", path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** The store the gateway uses, to look at what is left behind. */
  storage: Storage;
  projectId: string;
  close(): Promise<void>;
}

const PART = 512 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

const TRUE_ENVELOPE = { success: true, errors: [], messages: [], result: true, resultInfo: null, statusCode: 200 };

function expectNotInProgress(reply: { status: number; body: any }): void {
  expect(reply.status, JSON.stringify(reply.body)).toBe(409);
  expect(reply.body).toMatchObject({ success: false, result: null, statusCode: 409 });
  expect(reply.body.errorDetails).toEqual([
    { code: "UPLOAD_NOT_IN_PROGRESS", field: "requestKey", message: expect.any(String), retryable: false },
  ]);
}

export function uploadRaces(name: string, makeHarness: () => Promise<RaceHarness>): void {
  describe(`upload races: ${name}`, () => {
    let h: RaceHarness;

    beforeAll(async () => {
      h = await makeHarness();
    });
    afterAll(async () => {
      await h?.close();
    });

    /** A one-part upload with a duplicate-check reservation and its part stored. */
    async function readyUpload() {
      const data = randomContent(PART);
      const fileHash = `sha256:${randomBytes(32).toString("hex")}`;
      const started = await h.api("POST", "/multipart", {
        partsNumber: 1,
        fileName: "race.mp4",
        contentLength: String(PART),
        mimeType: "video/mp4",
        enableDuplicateCheck: true,
        fileHash,
      });
      expect(started.status, JSON.stringify(started.body)).toBe(200);
      const { requestKey, presignedUrl } = started.body.result as {
        requestKey: string;
        presignedUrl: { presignedUrl: string }[];
      };
      const put = await fetch(presignedUrl[0]!.presignedUrl, { method: "PUT", body: data });
      expect(put.status).toBe(200);
      const parts = [{ partNumber: 1, eTag: put.headers.get("etag")! }];
      return { requestKey, data, fileHash, parts, partUrl: presignedUrl[0]!.presignedUrl };
    }

    const complete = (requestKey: string, parts: { partNumber: number; eTag: string }[]) =>
      h.api("PUT", "/multipart-complete", { requestKey, parts });
    const abort = (requestKey: string) => h.api("PUT", "/multipart-abort", { requestKey });

    /** Asserts everything an upload that ended `completed` (or `aborted`) must show, and nothing else. */
    async function expectFinal(upload: Awaited<ReturnType<typeof readyUpload>>, winner: "completed" | "aborted") {
      const state = await h.api("GET", `/${upload.requestKey}`);
      expect(state.status).toBe(200);
      expect(state.body.result).toMatchObject({
        state: winner,
        completedAt: winner === "completed" ? expect.any(String) : null,
        abortedAt: winner === "aborted" ? expect.any(String) : null,
      });
      const reservation = await h.storage.readJson(hashReservationKey(h.projectId, upload.fileHash));
      const object = await h.storage.objectSize(objectKey(h.projectId, upload.requestKey));
      const link = await h.api("POST", `/success/${upload.requestKey}`);
      if (winner === "completed") {
        expect(reservation).toMatchObject({ requestKey: upload.requestKey });
        expect(object).toBe(PART);
        expect(link.status).toBe(200);
        const download = await fetch(link.body.result.downloadPath);
        expect(sha256(new Uint8Array(await download.arrayBuffer()))).toBe(sha256(upload.data));
      } else {
        expect(reservation).toBeUndefined();
        expect(object).toBeUndefined();
        expect(link.status).toBe(409);
        expect((await fetch(upload.partUrl, { method: "PUT", body: upload.data })).status).toBe(404);
      }
      expect(await openMarkerOf(h.storage, h.projectId, upload.requestKey)).toBeUndefined();
    }

    it("complete ∥ abort × 25, jittered: exactly one wins, the other gets 409, the final state follows the winner", async () => {
      // How long an uncontested complete takes here decides the spread of the abort's delay, so that some aborts
      // come before the complete's swap and some after it, whatever the machine's speed.
      const warmUp = await readyUpload();
      const began = performance.now();
      expect((await complete(warmUp.requestKey, warmUp.parts)).body).toEqual(TRUE_ENVELOPE);
      const spread = Math.max(10, 2 * (performance.now() - began));

      const winners: string[] = [];
      const round = async (n: number) => {
        const upload = await readyUpload();
        const [completed, aborted] = await Promise.all([
          sleep(Math.random() * 3).then(() => complete(upload.requestKey, upload.parts)),
          sleep(((n % 5) / 4) * spread + Math.random() * 3).then(() => abort(upload.requestKey)),
        ]);
        const winner = completed.status === 200 ? "completed" : "aborted";
        winners.push(winner);
        expect([completed.status, aborted.status].sort(), JSON.stringify([completed.body, aborted.body])).toEqual([
          200, 409,
        ]);
        expect(winner === "completed" ? completed.body : aborted.body).toEqual(TRUE_ENVELOPE);
        expectNotInProgress(winner === "completed" ? aborted : completed);
        await expectFinal(upload, winner);

        // The winning call sent again answers the same; the losing one still loses.
        if (winner === "completed") {
          expect((await complete(upload.requestKey, upload.parts)).body).toEqual(TRUE_ENVELOPE);
          expectNotInProgress(await abort(upload.requestKey));
        } else {
          expect((await abort(upload.requestKey)).body).toEqual(TRUE_ENVELOPE);
          expectNotInProgress(await complete(upload.requestKey, upload.parts));
        }
      };
      // Five uploads at a time, each with its own race.
      for (let batch = 0; batch < 5; batch++) await Promise.all([0, 1, 2, 3, 4].map((i) => round(batch * 5 + i)));
      // Both outcomes happened, so both orders of the race were tried.
      expect(new Set(winners), winners.join(" ")).toEqual(new Set(["completed", "aborted"]));
    }, 120_000);

    it("abort ∥ part PUTs: the abort wins, each PUT answers 200 or 404, later PUTs 404, nothing is left", async () => {
      const statuses: number[] = [];
      for (let round = 0; round < 4; round++) {
        const upload = await readyUpload();
        // PUTs of the part every 10 ms (what a client's parts and retries look like) from before the abort until after
        // its reply.
        let abortReplied = false;
        const puts: Promise<Response>[] = [];
        const putting = (async () => {
          for (let after = 0; after < 2; after += abortReplied ? 1 : 0) {
            puts.push(fetch(upload.partUrl, { method: "PUT", body: upload.data }));
            await sleep(10);
          }
        })();
        const aborted = await sleep(5 + round * 5).then(() => abort(upload.requestKey));
        abortReplied = true;
        await putting;
        const replies = await Promise.all(puts);
        statuses.push(...replies.map((r) => r.status));
        expect(aborted.body, JSON.stringify(aborted.body)).toEqual(TRUE_ENVELOPE);
        for (const reply of replies) {
          expect([200, 404], statuses.join(" ")).toContain(reply.status);
          // The embedded store answers in the envelope; S3 in its own XML.
          if (reply.status === 404 && reply.headers.get("content-type")?.includes("json")) {
            expect(await reply.json()).toMatchObject({ success: false, statusCode: 404 });
          }
        }
        await expectFinal(upload, "aborted");
        expectNotInProgress(await complete(upload.requestKey, upload.parts));
      }
      // PUTs sent after the abort's reply are refused (and expectFinal checked one more).
      expect(statuses, statuses.join(" ")).toContain(404);
    }, 60_000);

    it("complete ∥ complete: every one answers true, one object is stored, the reservation stays", async () => {
      for (let round = 0; round < 3; round++) {
        const upload = await readyUpload();
        const replies = await Promise.all(
          Array.from({ length: 4 }, (_, i) =>
            sleep(i * Math.random() * 4).then(() => complete(upload.requestKey, upload.parts)),
          ),
        );
        for (const reply of replies) expect(reply.body, JSON.stringify(reply.body)).toEqual(TRUE_ENVELOPE);
        await expectFinal(upload, "completed");
      }
    }, 60_000);
  });
}
