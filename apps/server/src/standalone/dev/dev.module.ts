import { Module } from "@nestjs/common";
import { AuthModule } from "../../auth/auth.module";
import { DevSessionController } from "./dev-session.controller";

@Module({ imports: [AuthModule], controllers: [DevSessionController] })
export class DevModule {}
