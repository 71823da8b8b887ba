import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AttachmentMeta } from '../../channels/channel.types.js';
import type { Executor } from '../../db/client.js';
import type { StoredAttachment } from '../tickets/messages.table.js';
import { attachments } from './intake.table.js';

/**
 * Keeps attachment bytes: in Postgres (one transaction with the message, the default) or as
 * files under a directory (content-addressed by checksum, written before the row, so a
 * committed row never points at a missing file). Metadata-only attachments (provider URLs)
 * get a row too, so every attachment has an id.
 */
export function createAttachmentStore(options: { dir?: string | undefined }) {
  return {
    async save(tx: Executor, messageId: string, items: AttachmentMeta[], now: Date): Promise<StoredAttachment[]> {
      const stored: StoredAttachment[] = [];
      for (const item of items) {
        let storagePath: string | null = null;
        if (options.dir && item.content && item.content.length > 0) {
          const name = item.checksum ?? `${messageId}-${stored.length}`;
          await mkdir(options.dir, { recursive: true });
          storagePath = join(options.dir, name.replace(/[^A-Za-z0-9_-]/g, '_'));
          await writeFile(storagePath, item.content);
        }
        const [row] = await tx
          .insert(attachments)
          .values({
            messageId,
            filename: item.filename,
            contentType: item.contentType,
            size: item.size,
            checksum: item.checksum ?? null,
            content: storagePath ? null : (item.content ?? null),
            storagePath,
            createdAt: now,
          })
          .returning({ id: attachments.id });
        stored.push({
          id: row!.id,
          filename: item.filename,
          contentType: item.contentType,
          size: item.size,
          ...(item.contentId ? { contentId: item.contentId } : {}),
          ...(item.inline !== undefined ? { inline: item.inline } : {}),
          ...(item.url ? { url: item.url } : {}),
          ...(item.checksum ? { checksum: item.checksum } : {}),
        });
      }
      return stored;
    },
  };
}

export type AttachmentStore = ReturnType<typeof createAttachmentStore>;
