"""Job photos: uploaded by staff (multipart), served by signed, expiring URLs."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from sqlalchemy import Row
from strawberry.file_uploads import Upload
from strawberry.types import Info

import readpath
from auth import scopes
from models import PhotoStage as PhotoStageValues
from resolvers import global_ids, photos
from resolvers.context import RequestContext
from schema.customers import changes_of
from schema.jobs import Job
from schema.relay import Node, node_type

PhotoStage = strawberry.enum(PhotoStageValues, name="PhotoStage")


@node_type
@strawberry.type
class Photo(Node):
    caption: str | None
    taken_at: datetime = strawberry.field(
        description="From the uploader, else the photo's own EXIF date, else the upload time."
    )
    stage: PhotoStage
    width: int = strawberry.field(description="Of the display image (`url`), upright.")
    height: int
    content_type: str = strawberry.field(description="Of both `url` and `thumbnailUrl`.")
    created_at: datetime
    display_key: strawberry.Private[str]
    thumbnail_key: strawberry.Private[str]
    job_key: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Row) -> Photo:
        return cls(
            id=global_ids.encode("Photo", row.id),
            caption=row.caption,
            taken_at=row.taken_at,
            stage=PhotoStageValues(row.stage),
            width=row.width,
            height=row.height,
            content_type=row.content_type,
            created_at=row.created_at,
            display_key=row.key,
            thumbnail_key=row.thumbnail_key,
            job_key=row.job_id,
        )

    @strawberry.field(
        description="The display image (long side at most 2048): a signed URL "
        "that expires (SIGNED_URL_TTL_SECONDS)."
    )
    async def url(self, info: Info[RequestContext, None]) -> str:
        return await photos.signed_url(info.context, self.display_key)

    @strawberry.field(description="The thumbnail (long side at most 400): a signed URL.")
    async def thumbnail_url(self, info: Info[RequestContext, None]) -> str:
        return await photos.signed_url(info.context, self.thumbnail_key)

    @strawberry.field
    async def job(self, info: Info[RequestContext, None]) -> Job:
        return Job.from_row(await info.context.loaders.job.load(self.job_key))


readpath.declare(
    "Photo",
    scopes.photos_visible_to,
    id=readpath.Computed(("id",), global_ids.encoder("Photo")),
    caption=readpath.Column("caption"),
    takenAt=readpath.Column("taken_at"),
    stage=readpath.Column("stage"),
    width=readpath.Column("width"),
    height=readpath.Column("height"),
    contentType=readpath.Column("content_type"),
    createdAt=readpath.Column("created_at"),
    # Python leaves: the very function the executed path calls, given the request context.
    url=readpath.Computed(("key",), photos.signed_url, context=True),
    thumbnailUrl=readpath.Computed(("thumbnail_key",), photos.signed_url, context=True),
    job=readpath.Related("Job", "job_id"),
)


@strawberry.input
class UploadJobPhotoInput:
    job_id: strawberry.ID
    file: Upload
    caption: str | None = None
    taken_at: datetime | None = strawberry.field(
        default=None, description="Defaults to the photo's EXIF date, else the upload time."
    )
    stage: PhotoStage | None = strawberry.field(default=None, description="PROGRESS if not given.")


@strawberry.input
class UpdatePhotoInput:
    id: strawberry.ID
    caption: str | None = strawberry.UNSET
    taken_at: datetime | None = strawberry.UNSET
    stage: PhotoStage | None = strawberry.UNSET


@strawberry.type
class PhotoMutations:
    @strawberry.mutation(
        description="Multipart (GraphQL multipart request spec), staff only. JPEG, PNG, WebP "
        "or HEIC, at most PHOTO_MAX_BYTES; stored upright, without metadata."
    )
    async def upload_job_photo(
        self, info: Info[RequestContext, None], input: UploadJobPhotoInput
    ) -> Photo:
        row = await photos.upload(
            info.context,
            job_id=input.job_id,
            file=input.file,
            caption=input.caption,
            taken_at=input.taken_at,
            stage=PhotoStageValues(input.stage) if input.stage is not None else None,
        )
        return Photo.from_row(row)

    @strawberry.mutation
    async def update_photo(
        self, info: Info[RequestContext, None], input: UpdatePhotoInput
    ) -> Photo:
        return Photo.from_row(await photos.change(info.context, input.id, changes_of(input)))

    @strawberry.mutation(description="Removes the photo and its stored images.")
    async def delete_photo(
        self,
        info: Info[RequestContext, None],
        id: strawberry.ID,
    ) -> bool:
        return await photos.remove(info.context, id)
