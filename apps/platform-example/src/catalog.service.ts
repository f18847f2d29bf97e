import { Injectable } from "@nestjs/common";
import type { CatalogEntry } from "./media.contract";

/**
 * The platform's record of finished files, filled by the gateway's completion hook. In memory for the example; a
 * real platform writes its database here.
 */
@Injectable()
export class CatalogService {
  private readonly entries = new Map<string, CatalogEntry[]>();

  add(projectId: string, entry: CatalogEntry): void {
    this.entries.set(projectId, [entry, ...(this.entries.get(projectId) ?? [])]);
  }

  list(projectId: string): CatalogEntry[] {
    return this.entries.get(projectId) ?? [];
  }
}
