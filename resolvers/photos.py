"""Job photos: upload (checked and cleaned by resolvers/photo_images.py), caption, delete,
and the signed URLs that serve them.

A photo is two stored objects (display image and thumbnail) and one row. Either all three
exist or none does:

- the objects are put first, inside `storage.undo_on_failure`, and the row is inserted
  before that block closes, so a failed put, a refused insert or a cancellation deletes
  what was put;
- the row is only durable once the request's transaction commits, after the resolver: if
  that commit fails (or the request is rolled back), `tx.after_rollback` deletes the
  objects again;
- a deleted photo's objects go once the deletion is committed (`tx.after_commit`), so a
  rolled-back deletion never leaves a row without its image.

Only a process that dies between the put and the commit can leave an orphan (an object no
row names); keys are random and never reused, so it can never be served.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, Select, delete, insert

import storage
from auth import scopes
from auth.principal import Principal
from errors import BadInput, NotFound
from models import PhotoStage
from models.columns import utcnow
from resolvers import global_ids, inputs, jobs, lists, loaders, nodes, photo_images
from resolvers.pagination import Ordering, PageArgs, page_args
from resolvers.updates import update_row

if TYPE_CHECKING:
    from resolvers.context import RequestContext

photos = scopes.photos

# Newest first by when the photo was taken.
ORDER = Ordering((("taken_at", True), ("id", True)))


def args_for(first: int | None, after: str | None) -> PageArgs:
    return page_args(first, after, ORDER, photos.c)


def storage_of(ctx: Any) -> storage.Storage:
    # app/services.py makes it with the app and starts it with the lifespan.
    return ctx.services.storage


async def signed_url(ctx: Any, key: str) -> str:
    """A URL that serves the object for SIGNED_URL_TTL_SECONDS. Only ever made for a photo
    the viewer may read (its row came through `scopes.photos_visible_to`)."""
    return await storage_of(ctx).signed_url(key)


# -- reads ----------------------------------------------------------------------------------


def _visible(viewer: Principal | None, _unfiltered: None) -> Select:
    return scopes.photos_visible_to(viewer)


loaders.register("photo", loaders.by_id(scopes.photos_visible_to))
# Keys: (job id, None, PageArgs) and (job id, None): photos have no filter.
loaders.register("photos_by_job", lists.pages_by(_visible, "job_id", ORDER))
loaders.register("photo_count_by_job", lists.counts_by(_visible, "job_id"))
nodes.register("Photo", "photo")


# -- writes ---------------------------------------------------------------------------------


def _details(changes: dict[str, object]) -> dict[str, object]:
    values: dict[str, object] = {}
    if "caption" in changes:
        values["caption"] = inputs.optional_text(
            changes["caption"], "caption", max_length=500, label="caption", multiline=True
        )
    if "taken_at" in changes and changes["taken_at"] is not None:
        values["taken_at"] = inputs.moment(changes["taken_at"], "takenAt")  # type: ignore[arg-type]
    if "stage" in changes and changes["stage"] is not None:
        values["stage"] = PhotoStage(getattr(changes["stage"], "value", changes["stage"]))
    return values


async def upload(
    ctx: RequestContext,
    *,
    job_id: str,
    file: photo_images.Readable,
    caption: str | None,
    taken_at: datetime | None,
    stage: PhotoStage | None,
) -> Row:
    viewer = ctx.staff()
    values = _details({"caption": caption, "taken_at": taken_at, "stage": stage})
    # Before a byte of the file is read: the job must be one this viewer may see.
    job = await jobs.get(ctx, job_id, field="jobId")
    settings = ctx.settings
    photo = await photo_images.process_upload(
        file, max_bytes=settings.PHOTO_MAX_BYTES, max_pixels=settings.PHOTO_MAX_PIXELS
    )
    store = storage_of(ctx)
    display_key = storage.new_key(job.business_id, job.id, photo.extension)
    thumbnail_key = storage.new_key(job.business_id, job.id, photo.extension)
    async with storage.undo_on_failure(store) as put:
        await put(display_key, photo.display, photo.content_type)
        await put(thumbnail_key, photo.thumbnail, photo.content_type)
        async with ctx.unit_of_work():
            row = await ctx.tx.first(
                insert(photos)
                .values(
                    id=uuid.uuid4(),
                    business_id=job.business_id,
                    customer_id=job.customer_id,
                    job_id=job.id,
                    caption=values.get("caption"),
                    taken_at=values.get("taken_at") or photo.taken_at or utcnow(),
                    stage=values.get("stage") or PhotoStage.PROGRESS,
                    key=display_key,
                    thumbnail_key=thumbnail_key,
                    content_type=photo.content_type,
                    width=photo.width,
                    height=photo.height,
                    byte_size=len(photo.display),
                    uploaded_by_staff_id=viewer.staff_member_id,
                )
                .returning(*scopes.readable(photos))
            )
        # The row is in; should the request's commit still fail, the objects go again.
        ctx.tx.after_rollback(lambda: _delete_objects(store, [display_key, thumbnail_key]))
    assert row is not None
    return row


async def _delete_objects(store: storage.Storage, keys: list[str]) -> None:
    for key in keys:
        await store.delete(key)


async def _own(ctx: RequestContext, photo_id: str) -> Row:
    ctx.staff()
    key = global_ids.decode(photo_id, "Photo", field="id")
    row = await ctx.loaders.photo.load(key)
    if row is None:
        raise NotFound("Photo")
    return row


async def change(ctx: RequestContext, photo_id: str, changes: dict[str, object]) -> Row:
    row = await _own(ctx, photo_id)
    for name, field in (("taken_at", "takenAt"), ("stage", "stage")):
        if name in changes and changes[name] is None:
            raise BadInput("This cannot be removed.", field=field)
    values = _details(changes)
    if not values:
        return row
    async with ctx.unit_of_work():
        return await update_row(
            ctx,
            photos,
            row.id,
            writable=scopes.photos_writable_by(ctx.principal),
            values=values,
            columns=scopes.readable(photos),
            loader="photo",
            what="Photo",
        )


async def remove(ctx: RequestContext, photo_id: str) -> bool:
    row = await _own(ctx, photo_id)
    async with ctx.unit_of_work():
        deleted = await ctx.tx.first(
            delete(photos)
            .where(photos.c.id == row.id, scopes.photos_writable_by(ctx.principal))
            .returning(photos.c.key, photos.c.thumbnail_key)
        )
    if deleted is None:
        raise NotFound("Photo")
    store = storage_of(ctx)
    # Only once the deletion is durable: a rolled-back one keeps its images.
    ctx.tx.after_commit(lambda: _delete_objects(store, [deleted.key, deleted.thumbnail_key]))
    return True
