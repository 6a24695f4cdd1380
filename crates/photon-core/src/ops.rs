//! The generated `AppStream` trait, implemented: each operation is one small handler that calls
//! the domain and turns its error into the wire error. Operations not listed keep the trait's
//! default, a `NotImplemented` error naming them.

use photon_types::{
    ApiError, AppStream, AssociateFleetRequest, AssociateFleetResult, Caller, CopyImageRequest,
    CopyImageResponse, CreateFleetRequest, CreateFleetResult, CreateImageBuilderRequest,
    CreateImageBuilderResult, CreateImageBuilderStreamingURLRequest,
    CreateImageBuilderStreamingURLResult, CreateStackRequest, CreateStackResult,
    CreateStreamingURLRequest, CreateStreamingURLResult, CreateUpdatedImageRequest,
    CreateUpdatedImageResult, DeleteFleetRequest, DeleteFleetResult, DeleteImageBuilderRequest,
    DeleteImageBuilderResult, DeleteImagePermissionsRequest, DeleteImagePermissionsResult,
    DeleteImageRequest, DeleteImageResult, DeleteStackRequest, DeleteStackResult,
    DescribeFleetsRequest, DescribeFleetsResult, DescribeImageBuildersRequest,
    DescribeImageBuildersResult, DescribeImagePermissionsRequest, DescribeImagePermissionsResult,
    DescribeImagesRequest, DescribeImagesResult, DescribeSessionsRequest, DescribeSessionsResult,
    DescribeStacksRequest, DescribeStacksResult, DisassociateFleetRequest, DisassociateFleetResult,
    ExpireSessionRequest, ExpireSessionResult, ListAssociatedFleetsRequest,
    ListAssociatedFleetsResult, ListAssociatedStacksRequest, ListAssociatedStacksResult,
    ListTagsForResourceRequest, ListTagsForResourceResponse, StartFleetRequest, StartFleetResult,
    StartImageBuilderRequest, StartImageBuilderResult, StopFleetRequest, StopFleetResult,
    StopImageBuilderRequest, StopImageBuilderResult, TagResourceRequest, TagResourceResponse,
    UntagResourceRequest, UntagResourceResponse, UpdateFleetRequest, UpdateFleetResult,
    UpdateImagePermissionsRequest, UpdateImagePermissionsResult, UpdateStackRequest,
    UpdateStackResult,
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

    async fn create_image_builder(
        &self,
        cx: &Caller,
        input: CreateImageBuilderRequest,
    ) -> Result<CreateImageBuilderResult, ApiError> {
        Service::create_image_builder(self, cx, input)
            .await
            .map(|b| CreateImageBuilderResult {
                image_builder: Some(b),
            })
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn describe_image_builders(
        &self,
        cx: &Caller,
        input: DescribeImageBuildersRequest,
    ) -> Result<DescribeImageBuildersResult, ApiError> {
        Service::describe_image_builders(self, cx, input)
            .await
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn start_image_builder(
        &self,
        cx: &Caller,
        input: StartImageBuilderRequest,
    ) -> Result<StartImageBuilderResult, ApiError> {
        Service::start_image_builder(self, cx, input)
            .await
            .map(|b| StartImageBuilderResult {
                image_builder: Some(b),
            })
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn stop_image_builder(
        &self,
        cx: &Caller,
        input: StopImageBuilderRequest,
    ) -> Result<StopImageBuilderResult, ApiError> {
        Service::stop_image_builder(self, cx, input)
            .await
            .map(|b| StopImageBuilderResult {
                image_builder: Some(b),
            })
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn delete_image_builder(
        &self,
        cx: &Caller,
        input: DeleteImageBuilderRequest,
    ) -> Result<DeleteImageBuilderResult, ApiError> {
        Service::delete_image_builder(self, cx, input)
            .await
            .map(|b| DeleteImageBuilderResult {
                image_builder: Some(b),
            })
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn create_image_builder_streaming_url(
        &self,
        cx: &Caller,
        input: CreateImageBuilderStreamingURLRequest,
    ) -> Result<CreateImageBuilderStreamingURLResult, ApiError> {
        Service::create_image_builder_streaming_url(self, cx, input)
            .await
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn create_fleet(
        &self,
        cx: &Caller,
        input: CreateFleetRequest,
    ) -> Result<CreateFleetResult, ApiError> {
        Service::create_fleet(self, cx, input)
            .await
            .map(|f| CreateFleetResult { fleet: Some(f) })
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn describe_fleets(
        &self,
        cx: &Caller,
        input: DescribeFleetsRequest,
    ) -> Result<DescribeFleetsResult, ApiError> {
        Service::describe_fleets(self, cx, input)
            .await
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn update_fleet(
        &self,
        cx: &Caller,
        input: UpdateFleetRequest,
    ) -> Result<UpdateFleetResult, ApiError> {
        Service::update_fleet(self, cx, input)
            .await
            .map(|f| UpdateFleetResult { fleet: Some(f) })
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn start_fleet(
        &self,
        cx: &Caller,
        input: StartFleetRequest,
    ) -> Result<StartFleetResult, ApiError> {
        Service::start_fleet(self, cx, input)
            .await
            .map(|_| StartFleetResult {})
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn stop_fleet(
        &self,
        cx: &Caller,
        input: StopFleetRequest,
    ) -> Result<StopFleetResult, ApiError> {
        Service::stop_fleet(self, cx, input)
            .await
            .map(|_| StopFleetResult {})
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn delete_fleet(
        &self,
        cx: &Caller,
        input: DeleteFleetRequest,
    ) -> Result<DeleteFleetResult, ApiError> {
        Service::delete_fleet(self, cx, input)
            .await
            .map(|()| DeleteFleetResult {})
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn create_stack(
        &self,
        cx: &Caller,
        input: CreateStackRequest,
    ) -> Result<CreateStackResult, ApiError> {
        Service::create_stack(self, cx, input)
            .await
            .map(|s| CreateStackResult { stack: Some(s) })
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn describe_stacks(
        &self,
        cx: &Caller,
        input: DescribeStacksRequest,
    ) -> Result<DescribeStacksResult, ApiError> {
        Service::describe_stacks(self, cx, input)
            .await
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn update_stack(
        &self,
        cx: &Caller,
        input: UpdateStackRequest,
    ) -> Result<UpdateStackResult, ApiError> {
        Service::update_stack(self, cx, input)
            .await
            .map(|s| UpdateStackResult { stack: Some(s) })
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn delete_stack(
        &self,
        cx: &Caller,
        input: DeleteStackRequest,
    ) -> Result<DeleteStackResult, ApiError> {
        Service::delete_stack(self, cx, input)
            .await
            .map(|()| DeleteStackResult {})
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn associate_fleet(
        &self,
        cx: &Caller,
        input: AssociateFleetRequest,
    ) -> Result<AssociateFleetResult, ApiError> {
        Service::associate_fleet(self, cx, input)
            .await
            .map(|()| AssociateFleetResult {})
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn disassociate_fleet(
        &self,
        cx: &Caller,
        input: DisassociateFleetRequest,
    ) -> Result<DisassociateFleetResult, ApiError> {
        Service::disassociate_fleet(self, cx, input)
            .await
            .map(|()| DisassociateFleetResult {})
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn list_associated_fleets(
        &self,
        cx: &Caller,
        input: ListAssociatedFleetsRequest,
    ) -> Result<ListAssociatedFleetsResult, ApiError> {
        Service::list_associated_fleets(self, cx, input)
            .await
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn list_associated_stacks(
        &self,
        cx: &Caller,
        input: ListAssociatedStacksRequest,
    ) -> Result<ListAssociatedStacksResult, ApiError> {
        Service::list_associated_stacks(self, cx, input)
            .await
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn create_streaming_url(
        &self,
        cx: &Caller,
        input: CreateStreamingURLRequest,
    ) -> Result<CreateStreamingURLResult, ApiError> {
        Service::create_streaming_url(self, cx, input)
            .await
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn describe_sessions(
        &self,
        cx: &Caller,
        input: DescribeSessionsRequest,
    ) -> Result<DescribeSessionsResult, ApiError> {
        Service::describe_sessions(self, cx, input)
            .await
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn expire_session(
        &self,
        cx: &Caller,
        input: ExpireSessionRequest,
    ) -> Result<ExpireSessionResult, ApiError> {
        Service::expire_session(self, cx, input)
            .await
            .map(|()| ExpireSessionResult {})
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn update_image_permissions(
        &self,
        cx: &Caller,
        input: UpdateImagePermissionsRequest,
    ) -> Result<UpdateImagePermissionsResult, ApiError> {
        Service::update_image_permissions(self, cx, input)
            .await
            .map(|()| UpdateImagePermissionsResult {})
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn describe_image_permissions(
        &self,
        cx: &Caller,
        input: DescribeImagePermissionsRequest,
    ) -> Result<DescribeImagePermissionsResult, ApiError> {
        Service::describe_image_permissions(self, cx, input)
            .await
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn delete_image_permissions(
        &self,
        cx: &Caller,
        input: DeleteImagePermissionsRequest,
    ) -> Result<DeleteImagePermissionsResult, ApiError> {
        Service::delete_image_permissions(self, cx, input)
            .await
            .map(|()| DeleteImagePermissionsResult {})
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn copy_image(
        &self,
        cx: &Caller,
        input: CopyImageRequest,
    ) -> Result<CopyImageResponse, ApiError> {
        Service::copy_image(self, cx, input)
            .await
            .map_err(|e| e.into_api(&cx.request_id))
    }

    async fn create_updated_image(
        &self,
        cx: &Caller,
        input: CreateUpdatedImageRequest,
    ) -> Result<CreateUpdatedImageResult, ApiError> {
        Service::create_updated_image(self, cx, input)
            .await
            .map_err(|e| e.into_api(&cx.request_id))
    }
}
