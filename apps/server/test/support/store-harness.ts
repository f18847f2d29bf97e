/** A store under test (an adapter of one port, or of `Storage`), a prefix no other test run uses, and its end. */
export interface StoreHarness<S> {
  storage: S;
  prefix: string;
  close(): Promise<void>;
}
