import { Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from "@nestjs/common";
import { timingSafeEqual, createHash } from "node:crypto";

export const PLATFORM_API_KEY = Symbol("PlatformApiKey");

/** The platform's own routes take the same key as its uploads (compared as digests, in constant time). */
@Injectable()
export class PlatformAccessGuard implements CanActivate {
  private readonly digest: Buffer;

  constructor(@Inject(PLATFORM_API_KEY) apiKey: string) {
    this.digest = sha256(apiKey);
  }

  canActivate(context: ExecutionContext): boolean {
    const header =
      context.switchToHttp().getRequest<{ headers: { authorization?: string } }>().headers.authorization ?? "";
    const match = /^Bearer[ \t]+(\S+)$/i.exec(header);
    if (!match || !timingSafeEqual(sha256(match[1]!), this.digest)) throw new UnauthorizedException();
    return true;
  }
}

function sha256(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}
