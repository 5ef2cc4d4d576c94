/**
 * Images pasted or dropped into the prompt box: kept as chips until the prompt is
 * sent, then sent with it (the kernel checks each one as `/image` checks a file and
 * keeps it in the `images` dict). Only image files are taken; text pastes are left
 * to the textarea.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { Attachment } from './protocol';

/** The kernel's default `AiModels.max_image_bytes`; larger images are refused here. */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

/** One image waiting to be sent. */
export interface IPendingImage {
  name: string;
  size: number;
  /** Base64 of the file's bytes. */
  data: string;
}

export class ImageAttachments {
  /** The list changed (added, removed, taken) or an image was refused (with the reason). */
  get changed(): ISignal<this, string | null> {
    return this._changed;
  }

  get images(): readonly IPendingImage[] {
    return this._images;
  }

  /** Take the images of `transfer` (a paste's or a drop's); true when there were any. */
  addFrom(transfer: DataTransfer | null): boolean {
    const files = Array.from(transfer?.files ?? []).filter(f => f.type.startsWith('image/'));
    for (const file of files) {
      void this._read(file);
    }
    return files.length > 0;
  }

  remove(index: number): void {
    this._images.splice(index, 1);
    this._changed.emit(null);
  }

  /** The images as prompt attachments; the list is emptied. */
  take(): Attachment[] {
    const taken = this._images.map(
      (image): Attachment => ({ kind: 'image', label: image.name, data: image.data })
    );
    if (taken.length) {
      this._images = [];
      this._changed.emit(null);
    }
    return taken;
  }

  private async _read(file: File): Promise<void> {
    const name = file.name || `pasted-${++this._pasted}.${file.type.split('/')[1] || 'png'}`;
    if (file.size > MAX_IMAGE_BYTES) {
      const mb = (file.size / 1024 / 1024).toFixed(1);
      this._changed.emit(`${name} is ${mb} MB; images up to ${MAX_IMAGE_BYTES / 1024 / 1024} MB can be attached`);
      return;
    }
    try {
      const data = Private.base64(new Uint8Array(await file.arrayBuffer()));
      this._images.push({ name, size: file.size, data });
      this._changed.emit(null);
    } catch (reason) {
      this._changed.emit(`${name} could not be read (${String(reason)})`);
    }
  }

  private _changed = new Signal<this, string | null>(this);
  private _images: IPendingImage[] = [];
  private _pasted = 0;
}

namespace Private {
  /** Base64 without building one huge argument list (`btoa` of chunks of bytes). */
  export function base64(bytes: Uint8Array): string {
    let binary = '';
    const chunk = 0x8000;
    for (let i = 0; i < bytes.length; i += chunk) {
      binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
    }
    return btoa(binary);
  }
}
