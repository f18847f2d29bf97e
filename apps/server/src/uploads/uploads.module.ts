import { Module } from "@nestjs/common";
import { AuthModule } from "../auth/auth.module";
import { UploadsController } from "./uploads.controller";
import { UploadExpirySweeper } from "./upload-expiry.sweeper";
import { UploadsService } from "./uploads.service";
import { VerificationWorker } from "./content-check/verification.worker";

@Module({
  imports: [AuthModule],
  controllers: [UploadsController],
  providers: [UploadsService, UploadExpirySweeper, VerificationWorker],
})
export class UploadsModule {}
