import { describe, expect, it } from "vitest";
import { errorEnvelope, errorEnvelopeSchema, ok, successEnvelope } from "./envelope";
import { ERROR_CODES, ERROR_STATUSES } from "./errors";
import { z } from "zod";

describe("envelope", () => {
  it("wraps a result in the documented success shape", () => {
    const body = ok({ uploadId: "u" });
    expect(body).toEqual({
      success: true,
      errors: [],
      messages: [],
      result: { uploadId: "u" },
      resultInfo: null,
      statusCode: 200,
    });
    expect(successEnvelope(z.object({ uploadId: z.string() })).parse(body)).toEqual(body);
  });

  it("maps problems to readable errors, machine codes and the first problem's status", () => {
    const body = errorEnvelope([
      { code: "VALIDATION_FAILED", field: "partsNumber", message: "must be from 1 to 10000" },
      { code: "VALIDATION_FAILED", field: "fileName", message: "must not be empty" },
    ]);
    expect(body).toEqual({
      success: false,
      errors: ["partsNumber: must be from 1 to 10000", "fileName: must not be empty"],
      messages: [],
      result: null,
      resultInfo: null,
      statusCode: 400,
      errorDetails: [
        { code: "VALIDATION_FAILED", field: "partsNumber", message: "must be from 1 to 10000", retryable: false },
        { code: "VALIDATION_FAILED", field: "fileName", message: "must not be empty", retryable: false },
      ],
    });
    expect(errorEnvelopeSchema.parse(body)).toEqual(body);
  });

  it("uses the code's default message and retryability", () => {
    const body = errorEnvelope([{ code: "STORAGE_UNAVAILABLE" }]);
    expect(body.statusCode).toBe(503);
    expect(body.errors).toEqual([ERROR_CODES.STORAGE_UNAVAILABLE.message]);
    expect(body.errorDetails[0]).toEqual({
      code: "STORAGE_UNAVAILABLE",
      message: ERROR_CODES.STORAGE_UNAVAILABLE.message,
      retryable: true,
    });
  });

  it("declares every code's status as an error status of the contract", () => {
    for (const def of Object.values(ERROR_CODES)) {
      expect(ERROR_STATUSES).toContain(def.status);
    }
    const used = new Set(Object.values(ERROR_CODES).map((d) => d.status));
    expect([...ERROR_STATUSES].every((s) => used.has(s))).toBe(true);
  });
});
