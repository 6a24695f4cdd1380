//! The generated `AppStream` trait, implemented: each operation is one small handler that calls
//! the domain and turns its error into the wire error. Operations not listed keep the trait's
//! default, a `NotImplemented` error naming them.

use photon_types::{
    ApiError, AppStream, Caller, DeleteImageRequest, DeleteImageResult, DescribeImagesRequest,
    DescribeImagesResult, ListTagsForResourceRequest, ListTagsForResourceResponse,
    TagResourceRequest, TagResourceResponse, UntagResourceRequest, UntagResourceResponse,
};

use crate::Service;

impl AppStream for Service {
    async fn describe_images(
        &self,
        cx: &Caller,
        input: DescribeImagesRequest,
    ) -> Result<DescribeImagesResult, ApiError> {
        Service::describe_images(self, cx, input)
            .await
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn delete_image(
        &self,
        cx: &Caller,
        input: DeleteImageRequest,
    ) -> Result<DeleteImageResult, ApiError> {
        Service::delete_image(self, cx, input)
            .await
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn tag_resource(
        &self,
        cx: &Caller,
        input: TagResourceRequest,
    ) -> Result<TagResourceResponse, ApiError> {
        Service::tag_resource(self, cx, &input.resource_arn, &input.tags)
            .await
            .map(|()| TagResourceResponse {})
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn untag_resource(
        &self,
        cx: &Caller,
        input: UntagResourceRequest,
    ) -> Result<UntagResourceResponse, ApiError> {
        Service::untag_resource(self, cx, &input.resource_arn, &input.tag_keys)
            .await
            .map(|()| UntagResourceResponse {})
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn list_tags_for_resource(
        &self,
        cx: &Caller,
        input: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, ApiError> {
        Service::list_tags(self, cx, &input.resource_arn)
            .await
            .map(|tags| ListTagsForResourceResponse { tags: Some(tags) })
            .map_err(|e| e.into_api(&cx.request_id))
    }
}
