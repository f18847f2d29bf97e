/** The few icons the page uses, inline so that it loads nothing else. */
const paths = {
  upload: "M12 4l-6 6h4v6h4v-6h4zM5 18h14v2H5z",
  pause: "M7 5h3.5v14H7zM13.5 5H17v14h-3.5z",
  play: "M8 5v14l11-7z",
  close: "M6.4 5L5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12 19 6.4 17.6 5 12 10.6z",
  retry: "M12 5V2L7 6l5 4V7a5 5 0 11-5 5H5a7 7 0 107-7z",
  file: "M6 2h8l5 5v15H6zM13 3v5h5",
  download: "M11 4h2v9l3.5-3.5 1.4 1.4L12 16.8l-5.9-5.9 1.4-1.4L11 13zM5 18h14v2H5z",
  refresh: "M17.7 6.3A8 8 0 104 12h2a6 6 0 1110.3-4.2L13 11h7V4z",
} as const;

export type IconName = keyof typeof paths;

export function Icon({ name, className }: { name: IconName; className?: string }) {
  return (
    <svg
      className={`icon ${className ?? ""}`}
      viewBox="0 0 24 24"
      width="18"
      height="18"
      aria-hidden="true"
      focusable="false"
    >
      <path
        d={paths[name]}
        fill={name === "file" ? "none" : "currentColor"}
        stroke={name === "file" ? "currentColor" : "none"}
        strokeWidth="1.6"
        strokeLinejoin="round"
      />
    </svg>
  );
}
