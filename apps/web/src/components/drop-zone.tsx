import { useRef, useState, type DragEvent } from "react";
import { Icon } from "./icons";

/** Where files come in: dropped anywhere on the zone, or chosen with the picker (several at once). */
export function DropZone({ onFiles }: { onFiles: (files: File[]) => void }) {
  const [over, setOver] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    const files = [...event.dataTransfer.files];
    if (files.length > 0) onFiles(files);
  };

  return (
    <section
      className={`drop-zone${over ? " drop-zone-over" : ""}`}
      onDragOver={(event) => {
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
      aria-label="Add files"
    >
      <div className="drop-zone-icon">
        <Icon name="upload" />
      </div>
      <p className="drop-zone-title">Drop files here</p>
      <p className="drop-zone-hint">Any size, up to 5 TiB each. They upload one after another, two at a time.</p>
      <label className="button button-primary">
        Choose files
        <input
          ref={input}
          className="visually-hidden"
          type="file"
          multiple
          aria-label="Choose files to upload"
          onChange={(event) => {
            const files = [...(event.target.files ?? [])];
            // Cleared so that choosing the same file again (to continue it) fires a change too.
            if (input.current) input.current.value = "";
            if (files.length > 0) onFiles(files);
          }}
        />
      </label>
    </section>
  );
}
