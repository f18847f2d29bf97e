import { describe, expect, it } from "vitest";
import { KeyedMutex } from "./keyed-mutex";

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe("KeyedMutex", () => {
  it("runs the tasks of one key one at a time, in order, and those of other keys alongside", async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    let running = 0;
    let most = 0;
    const task = (name: string) => async () => {
      running++;
      most = Math.max(most, running);
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
      running--;
      return name;
    };
    const results = await Promise.all([
      mutex.run("a", task("a1")),
      mutex.run("a", task("a2")),
      mutex.run("a", task("a3")),
    ]);
    expect(results).toEqual(["a1", "a2", "a3"]);
    expect(log).toEqual(["start a1", "end a1", "start a2", "end a2", "start a3", "end a3"]);
    expect(most).toBe(1);

    running = 0;
    most = 0;
    await Promise.all([mutex.run("a", task("x")), mutex.run("b", task("y"))]);
    expect(most).toBe(2);
  });

  it("keeps going after a task fails", async () => {
    const mutex = new KeyedMutex();
    const failed = mutex.run("k", () => Promise.reject(new Error("boom")));
    const next = mutex.run("k", () => Promise.resolve("after"));
    await expect(failed).rejects.toThrow("boom");
    await expect(next).resolves.toBe("after");
  });
});
