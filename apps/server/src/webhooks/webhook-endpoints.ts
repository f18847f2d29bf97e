import { Logger } from "@nestjs/common";
import type { UploadEventType } from "@upload-gateway/contract";
import type { z } from "zod";
import { webhookTargetSchema, type ProjectsFile, type WebhookTarget } from "../auth/projects-file";

/**
 * The module's `webhooks.targets`: the URLs that take a project's events, for apps whose projects are not in a
 * projects file (a custom auth resolver). Asked when an event is recorded and again at each delivery attempt (so a
 * removed URL stops getting deliveries): cache in it whatever is costly to look up.
 */
export type WebhookTargetsOf = (
  projectId: string,
) => readonly WebhookTarget[] | null | undefined | Promise<readonly WebhookTarget[] | null | undefined>;

export type WebhookEndpoint = z.output<typeof webhookTargetSchema>;

/** Which URLs take a project's events: its `webhooks` in the projects file, or the embedding app's `webhooks.targets`. */
export class WebhookEndpoints {
  private readonly logger = new Logger("Webhooks");

  constructor(
    private readonly projects: ProjectsFile | null,
    private readonly targetsOf: WebhookTargetsOf | null,
  ) {}

  /** Whether any project can have webhooks: if not, there is nothing to look for in the outbox. */
  get configured(): boolean {
    return this.targetsOf !== null || (this.projects?.projects ?? []).some((p) => (p.webhooks ?? []).length > 0);
  }

  /** The project's URLs (with their secrets), those subscribed to `type` when given. */
  async of(projectId: string, type?: UploadEventType): Promise<WebhookEndpoint[]> {
    const all = this.targetsOf
      ? this.usable(projectId, await this.targetsOf(projectId))
      : (this.projects?.projects.find((p) => p.id === projectId)?.webhooks ?? []);
    return all.filter((w) => type === undefined || w.events.includes(type));
  }

  /** The targets the app gave, checked as the projects file's are; an unusable one is logged and left out. */
  private usable(projectId: string, targets: readonly WebhookTarget[] | null | undefined): WebhookEndpoint[] {
    const usable: WebhookEndpoint[] = [];
    for (const [index, target] of (targets ?? []).entries()) {
      const parsed = webhookTargetSchema.safeParse(target);
      if (parsed.success) usable.push(parsed.data);
      else {
        const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "target"}: ${i.message}`).join("; ");
        this.logger.error(`webhooks.targets("${projectId}")[${index}] is not used: ${problems}`);
      }
    }
    return usable;
  }
}
