import { describe, expect, it } from "vitest";
import { embeddedMarkup, sniffMarkup, trailingArchive } from "./markup-sniff";

const bytes = (text: string, encoding: BufferEncoding = "utf8") => Buffer.from(text, encoding);

describe("sniffMarkup", () => {
  it.each([
    ["<!DOCTYPE html><p>hi", "text/html"],
    ["  \r\n\t<HTML lang=en>", "text/html"],
    ["<script>alert(1)</script>", "text/html"],
    ["<iframe src=x>", "text/html"],
    ["<!-- x --><div>", "text/html"],
    ["<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>", "image/svg+xml"],
    ['<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg onload="x">', "image/svg+xml"],
    ['<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml">', "application/xhtml+xml"],
    ['<?xml version="1.0"?><feed/>', "application/xml"],
    ["#!/bin/sh\nrm -rf /", "text/x-shellscript"],
    ["function steal() { return document.cookie }", "text/javascript"],
    ['"use strict";\nconst a = 1;', "text/javascript"],
  ])("%j is %s", (text, type) => {
    expect(sniffMarkup(bytes(text))).toBe(type);
  });

  it("skips a byte order mark: UTF-8, UTF-16 little- and big-endian", () => {
    expect(sniffMarkup(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes("<html>")]))).toBe("text/html");
    expect(sniffMarkup(Buffer.concat([Buffer.from([0xff, 0xfe]), bytes("<svg>", "utf16le")]))).toBe("image/svg+xml");
    const bigEndian = bytes("<html>", "utf16le").swap16();
    expect(sniffMarkup(Buffer.concat([Buffer.from([0xfe, 0xff]), bigEndian]))).toBe("text/html");
  });

  it.each([
    ["a plain note <html> later"],
    ["<abbr>not one of the patterns"],
    ["<bodyguard>"],
    ["\x00\x00\x00\x20ftypisom"],
    [""],
  ])("%j is none of them", (text) => {
    expect(sniffMarkup(bytes(text))).toBeUndefined();
  });
});

describe("embeddedMarkup and trailingArchive", () => {
  it("finds markup that runs anywhere in binary bytes, in any case", () => {
    const binary = Buffer.from([0, 1, 2, 255, 254]);
    expect(embeddedMarkup(Buffer.concat([binary, bytes("<SCRIPT>x</SCRIPT>"), binary]))).toBe(true);
    expect(embeddedMarkup(Buffer.concat([binary, bytes('<img src=x onerror="x">')]))).toBe(true);
    expect(embeddedMarkup(Buffer.concat([binary, bytes("a caption: scripts and html"), binary]))).toBe(false);
  });

  it("finds a ZIP archive's end record", () => {
    expect(
      trailingArchive(Buffer.concat([Buffer.alloc(100), Buffer.from([0x50, 0x4b, 0x05, 0x06]), Buffer.alloc(18)])),
    ).toBe(true);
    expect(trailingArchive(Buffer.alloc(100))).toBe(false);
  });
});
